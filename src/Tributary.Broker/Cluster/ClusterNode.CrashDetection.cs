using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Security.Authentication;
using Etcdserverpb;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Tributary.Broker.Cluster;

// Crash detection (tributary.cluster.crash.detection.enable). When a broker's process dies, the kernel closes its
// sockets and its port refuses connections at once; a paused, overloaded or cut-off broker's kernel still accepts, or
// stays silent. So the controller holds an idle connection to every other live broker's endpoint of the inter-broker
// listener (the one followers fetch from), and every other broker one to the controller. On a TLS listener the
// handshake is made (BrokerCore.InterBrokerTls), so the broker's handshake timeout does not end a live connection; no
// SASL login, as an unauthenticated connection is closed only when idle. When that connection ends and two connects
// 100 ms apart are refused, the watcher revokes the broker's etcd lease: etcd deletes its registration (and the
// controller key if it held it), and the usual election runs without waiting for tributary.metadata.etcd.lease.ms.
// Safety does not rest on this: leader epochs and compare-and-swap in etcd fence as before, and a live broker revoked
// by mistake registers again under a new lease (KeepAliveLoopAsync).
public sealed partial class ClusterNode
{
    private const int RefusalsToRevoke = 2;
    private static readonly TimeSpan ConnectIntervalMin = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ProbeRetryDelay = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan WatchedUpdateInterval = TimeSpan.FromMilliseconds(250);

    // The lease each live broker registered under, from its key in etcd.
    private readonly ConcurrentDictionary<int, long> _brokerLeases = new();

    private enum ProbeResult
    {
        Held,
        Refused,
        Failed,
    }

    // Keeps one watcher per watched broker and lease: a broker registered again (a new process) is watched afresh.
    private async Task CrashDetectionLoopAsync(CancellationToken cancellationToken)
    {
        if (!_core.Config.CrashDetectionEnable)
        {
            return;
        }

        var watchers = new Dictionary<int, (long Lease, CancellationTokenSource Stop, Task Watch)>();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var wanted = WatchedBrokers();
                foreach (var (nodeId, watcher) in watchers.Where(w => !wanted.TryGetValue(w.Key, out var lease) || lease != w.Value.Lease).ToList())
                {
                    watchers.Remove(nodeId);
                    await StopWatcherAsync(watcher.Stop, watcher.Watch).ConfigureAwait(false);
                }

                foreach (var (nodeId, lease) in wanted)
                {
                    // A broker without the inter-broker endpoint is not watched (its fetchers log why); its lease still ends it.
                    if (!watchers.ContainsKey(nodeId) && _brokers.TryGetValue(nodeId, out var broker)
                        && broker.Endpoints.FirstOrDefault(e => e.Listener == _core.Config.InterBrokerListener) is { } endpoint)
                    {
                        var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                        watchers[nodeId] = (lease, stop, Task.Run(() => WatchBrokerAsync(nodeId, lease, endpoint, stop.Token), CancellationToken.None));
                    }
                }

                await Task.Delay(WatchedUpdateInterval, _core.Time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            foreach (var watcher in watchers.Values)
            {
                await StopWatcherAsync(watcher.Stop, watcher.Watch).ConfigureAwait(false);
            }
        }
    }

    private static async Task StopWatcherAsync(CancellationTokenSource stop, Task watch)
    {
        await stop.CancelAsync().ConfigureAwait(false);
        await watch.ConfigureAwait(false);
        stop.Dispose();
    }

    // The controller watches every other live broker; the others watch the controller.
    private Dictionary<int, long> WatchedBrokers()
    {
        var controller = ControllerId;
        IEnumerable<int> ids = IsController ? _brokerLeases.Keys : controller != -1 ? [controller] : [];
        var watched = new Dictionary<int, long>();
        foreach (var id in ids)
        {
            if (id != LocalNodeId && _brokerLeases.TryGetValue(id, out var lease))
            {
                watched[id] = lease;
            }
        }

        return watched;
    }

    private async Task WatchBrokerAsync(int nodeId, long lease, ClusterEndpoint endpoint, CancellationToken cancellationToken)
    {
        // A broker registers before its listener opens, so refusals count only once this registration has accepted.
        var accepted = false;
        var refusals = 0;
        var tlsFailureLogged = false;
        var lastConnect = DateTimeOffset.MinValue;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                // An ended connection is probed at once; connects are still at least 100 ms apart.
                var wait = lastConnect + ConnectIntervalMin - _core.Time.GetUtcNow();
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, _core.Time, cancellationToken).ConfigureAwait(false);
                }

                lastConnect = _core.Time.GetUtcNow();
                var (result, tlsFailure) = await HoldConnectionAsync(endpoint, cancellationToken).ConfigureAwait(false);
                if (tlsFailure is not null && !tlsFailureLogged)
                {
                    tlsFailureLogged = true;
                    LogCrashProbeTlsFailed(_logger, nodeId, endpoint.Host, endpoint.Port, endpoint.Listener, tlsFailure);
                }

                switch (result)
                {
                    case ProbeResult.Held:
                        accepted = true;
                        refusals = 0;
                        break;
                    case ProbeResult.Refused when accepted:
                        if (++refusals >= RefusalsToRevoke)
                        {
                            await RevokeAsync(nodeId, lease, endpoint, cancellationToken).ConfigureAwait(false);
                            return;
                        }

                        break;
                    default:
                        // Not listening yet, unreachable, timed out or a failed TLS handshake: none shows a dead process.
                        refusals = 0;
                        await Task.Delay(ProbeRetryDelay, _core.Time, cancellationToken).ConfigureAwait(false);
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    // Connects (with the TLS handshake on a TLS listener) and holds the connection idle until the broker ends it: at
    // once when its process dies, after connections.max.idle.ms while it lives. A failed handshake comes with its reason.
    private async Task<(ProbeResult Result, string? TlsFailure)> HoldConnectionAsync(ClusterEndpoint endpoint, CancellationToken cancellationToken)
    {
        using var tcp = new TcpClient();
        try
        {
            using var connecting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            connecting.CancelAfter(ConnectTimeout);
            await tcp.ConnectAsync(endpoint.Host, endpoint.Port, connecting.Token).ConfigureAwait(false);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return (ProbeResult.Refused, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (ProbeResult.Failed, null);
        }
        catch (Exception e) when (e is SocketException or IOException or ArgumentException)
        {
            // Unreachable, timed out, or a host name that does not resolve: none of these shows a dead process.
            return (ProbeResult.Failed, null);
        }

        Stream stream = tcp.GetStream();
        if (_core.InterBrokerTls is { } tls)
        {
            try
            {
                using var handshaking = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                handshaking.CancelAfter(HandshakeTimeout);
                stream = await tls(stream, endpoint.Host, handshaking.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return (ProbeResult.Failed, "no TLS handshake within " + HandshakeTimeout.TotalSeconds + " s");
            }
            catch (Exception e) when (e is AuthenticationException or IOException or SocketException)
            {
                return (ProbeResult.Failed, e.Message);
            }
        }

        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[64];
            try
            {
                while (await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false) > 0)
                {
                }
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                // Reset rather than closed: ended all the same.
            }
        }

        return (ProbeResult.Held, null);
    }

    private async Task RevokeAsync(int nodeId, long lease, ClusterEndpoint endpoint, CancellationToken cancellationToken)
    {
        if (!_brokerLeases.TryGetValue(nodeId, out var current) || current != lease)
        {
            return;
        }

        LogBrokerCrashed(_logger, nodeId, endpoint.Host, endpoint.Port, lease);
        try
        {
            await _leases.LeaseRevokeAsync(new LeaseRevokeRequest { ID = lease }, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            // Gone already: expired, or revoked by another broker that saw the same.
        }
        catch (RpcException e)
        {
            LogRevokeFailed(_logger, nodeId, e.Status.Detail);
        }
    }

    [LoggerMessage(EventId = 985, Level = LogLevel.Warning, Message = "Broker {NodeId} closed its connection and {Host}:{Port} refuses new ones (its process is gone); revoking its etcd lease {Lease}")]
    private static partial void LogBrokerCrashed(ILogger logger, int nodeId, string host, int port, long lease);

    [LoggerMessage(EventId = 1200, Level = LogLevel.Warning, Message = "Crash detection cannot make a TLS connection to broker {NodeId} at {Host}:{Port} (inter-broker listener {Listener}): {Reason}; retrying, and until it succeeds that broker's crash is seen only when its lease expires")]
    private static partial void LogCrashProbeTlsFailed(ILogger logger, int nodeId, string host, int port, string listener, string reason);

    [LoggerMessage(EventId = 986, Level = LogLevel.Warning, Message = "Revoking the lease of broker {NodeId} failed: {Reason}; it ends when it expires")]
    private static partial void LogRevokeFailed(ILogger logger, int nodeId, string reason);
}
