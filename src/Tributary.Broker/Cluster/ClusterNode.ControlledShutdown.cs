using System.Collections.Concurrent;
using System.Globalization;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Tributary.Broker.Cluster;

// Controlled shutdown (Kafka's, KRaft era): a broker stopping cleanly first puts shutdown/<id> under its lease; the
// controller then moves the leaderships it holds to other live ISR members and drops it from ISRs (Elect), and the
// broker waits for that before its lease is revoked, so clients find new leaders without waiting for a lease to end.
// Only the controller writes leaders; the key goes with the broker's lease.
public sealed partial class ClusterNode
{
    private static readonly TimeSpan ShutdownPollInterval = TimeSpan.FromMilliseconds(50);

    private readonly ConcurrentDictionary<int, bool> _shuttingDown = new();
    private volatile bool _abandoned;

    /// <summary>Whether the broker asked for a controlled shutdown (it no longer leads nor joins ISRs where others can).</summary>
    public bool IsShuttingDown(int nodeId) => _shuttingDown.ContainsKey(nodeId);

    private void ApplyShutdown(int nodeId, bool put)
    {
        if (put)
        {
            _shuttingDown[nodeId] = true;
        }
        else
        {
            _shuttingDown.TryRemove(nodeId, out _);
        }
    }

    /// <summary>
    /// Asks the controller to move this broker's leaderships and ISR memberships to other live replicas and waits
    /// until it has, up to controlled.shutdown.max.retries rounds of controlled.shutdown.retry.backoff.ms. Returns
    /// whether everything that could move did; false when the wait ended first or etcd did not take the request.
    /// </summary>
    public async Task<bool> ControlledShutdownAsync(CancellationToken cancellationToken)
    {
        try
        {
            var key = ByteString.CopyFromUtf8(_keys.Shutdown(LocalNodeId));
            var value = ByteString.CopyFromUtf8(LocalNodeId.ToString(CultureInfo.InvariantCulture));
            await _kv.PutAsync(new PutRequest { Key = key, Value = value, Lease = Volatile.Read(ref _leaseId) },
                deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            LogShutdownUnrequested(_logger, LocalNodeId, e.Status.Detail);
            return false;
        }

        var rounds = Math.Max(1, _core.Config.ControlledShutdownMaxRetries);
        var round = TimeSpan.FromMilliseconds(_core.Config.ControlledShutdownRetryBackoffMs);
        for (var attempt = 1; attempt <= rounds; attempt++)
        {
            var end = _core.Time.GetUtcNow() + round;
            while (true)
            {
                var remaining = PartitionsToMove();
                if (remaining == 0)
                {
                    LogShutdownDone(_logger, LocalNodeId);
                    return true;
                }

                if (_core.Time.GetUtcNow() >= end)
                {
                    LogShutdownWaiting(_logger, LocalNodeId, remaining, attempt, rounds);
                    break;
                }

                await Task.Delay(ShutdownPollInterval, _core.Time, cancellationToken).ConfigureAwait(false);
            }
        }

        return false;
    }

    /// <summary>
    /// Leaves the cluster as a killed process would (TributaryCluster's KillBrokerAsync): stops watching and keeping
    /// the lease alive but does not revoke it, so the cluster notices only when it expires.
    /// </summary>
    public ValueTask AbandonAsync()
    {
        _abandoned = true;
        return DisposeAsync();
    }

    // Partitions this broker leads or is in the ISR of while another live replica not shutting down is in the ISR:
    // the controller has yet to move them.
    private int PartitionsToMove() => _partitions.Values.Count(v =>
        (v.Value.Leader == LocalNodeId || v.Value.Isr.Contains(LocalNodeId))
        && v.Value.Isr.Any(r => r != LocalNodeId && IsLive(r) && !IsShuttingDown(r)));

    [LoggerMessage(EventId = 970, Level = LogLevel.Information, Message = "Broker {NodeId}: controlled shutdown done, its leaderships moved")]
    private static partial void LogShutdownDone(ILogger logger, int nodeId);

    [LoggerMessage(EventId = 971, Level = LogLevel.Warning, Message = "Broker {NodeId}: {Remaining} partitions still to move in controlled shutdown (round {Attempt} of {Rounds})")]
    private static partial void LogShutdownWaiting(ILogger logger, int nodeId, int remaining, int attempt, int rounds);

    [LoggerMessage(EventId = 972, Level = LogLevel.Warning, Message = "Broker {NodeId}: controlled shutdown could not be requested ({Reason}); stopping without it")]
    private static partial void LogShutdownUnrequested(ILogger logger, int nodeId, string reason);
}
