using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Tributary.Server.Networking;

/// <summary>Per-connection buffer limits of <see cref="SocketListenerFactory"/>, in bytes.</summary>
/// <param name="InputBufferBytesMax">
/// Received bytes a connection holds before it stops reading its socket (then TCP holds the client back). A frame
/// larger than this still arrives whole: the handler consumes nothing until its frame is complete, so the limit
/// applies from the next frame on.
/// </param>
/// <param name="OutputBufferBytesMax">
/// Response bytes a connection holds before the handler waits for the socket to take them. A consumer's fetch answer
/// is often several MiB, and each pause hands the connection between the handler and the send loop, so the default
/// is 4 MiB (bench/journal/socket-transport.md).
/// </param>
/// <param name="PooledBlocksMax">Idle <see cref="BlockMemoryPool.BlockBytes"/> blocks kept for reuse by all connections.</param>
/// <param name="ParkAfterIdleMs">
/// Time, in ms, a connection waits for its next request with nothing received or in flight before its thread ends and
/// its socket waits in the listener's <see cref="ConnectionPoller"/> (a new thread takes it when data comes); -1: never.
/// Short enough that thousands of clients connecting at once do not hold thousands of threads for long, long enough
/// that a client sending every few hundred ms keeps its thread.
/// </param>
public sealed record SocketTransportLimits(int InputBufferBytesMax, int OutputBufferBytesMax, int PooledBlocksMax, int ParkAfterIdleMs = 1000)
{
    public static SocketTransportLimits Default { get; } = new(1024 * 1024, 4 * 1024 * 1024, 256);
}

/// <summary>
/// Tributary's TCP transport under Kestrel. Kestrel's own socket transport receives into 4 KiB blocks of a pool
/// whose size cannot be changed through public API; a Kafka producer sends requests of hundreds of KiB, and on 2 cores
/// the receives (two syscalls per 4 KiB) and the pipe wake-ups they cause were the broker's largest cost.
/// This transport uses 256 KiB blocks and gives each connection a thread of its own
/// that receives, handles and answers its requests (<see cref="SocketConnection"/>): Kestrel still accepts through it,
/// limits connections (and so threads), and closes them gracefully.
/// </summary>
/// <param name="admission">
/// The limits of the listener bound to an endpoint: its creation rates and its own max.connections (none: unlimited).
/// </param>
/// <param name="ipCreationRates">connection_creation_rate of ip quota entities, shared by all listeners (none: unlimited).</param>
public sealed partial class SocketListenerFactory(SocketTransportLimits limits, ILoggerFactory loggerFactory, ConnectionsPerIp? connectionsPerIp = null,
    Func<IPEndPoint, ListenerAdmission>? admission = null, IpConnectionCreationRates? ipCreationRates = null) : IConnectionListenerFactory
{
    /// <summary>Pending connections the kernel queues before accept.</summary>
    public const int ListenBacklog = 512;

    /// <summary>
    /// Connections over their address's connection_creation_rate held open (unread) until their throttle ends, per
    /// listener; past it they are closed at once.
    /// </summary>
    public const int ThrottledSocketsMax = 1024;

    private readonly ILogger _logger = loggerFactory.CreateLogger<SocketListenerFactory>();

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is not IPEndPoint ip)
        {
            throw new NotSupportedException($"Only IP endpoints are supported, not {endpoint.GetType().Name}");
        }

        var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(ip);
            socket.Listen(ListenBacklog);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new AddressInUseException(e.Message, e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        // Idle connections of this listener park their sockets in a poller of its own (none: they keep their threads).
        var poller = limits.ParkAfterIdleMs >= 0 ? ConnectionPoller.TryCreate(loggerFactory.CreateLogger<ConnectionPoller>()) : null;
        return ValueTask.FromResult<IConnectionListener>(new Listener(socket, limits, loggerFactory.CreateLogger<SocketConnection>(), _logger, Accept,
            connectionsPerIp ?? ConnectionsPerIp.Unlimited, poller, admission?.Invoke(ip) ?? ListenerAdmission.Unlimited, ipCreationRates));
    }

    /// <summary>First wait after an accept that failed for a reason other than the one connection (out of descriptors, memory).</summary>
    public static readonly TimeSpan AcceptRetryDelayMin = TimeSpan.FromMilliseconds(10);

    /// <summary>Longest wait between accepts that keep failing; each failure in a row doubles the wait up to it.</summary>
    public static readonly TimeSpan AcceptRetryDelayMax = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Takes the next connection off the listening socket. Tests replace it to make accepting fail as running out of
    /// descriptors does (the failure surfaces as a <see cref="SocketException"/> from accept, or as an
    /// <see cref="OutOfMemoryException"/> from starting the connection's thread).
    /// </summary>
    internal Func<Socket, CancellationToken, ValueTask<Socket>> Accept { get; init; } = static (socket, cancellationToken) => socket.AcceptAsync(cancellationToken);

    private sealed partial class Listener(Socket socket, SocketTransportLimits limits, ILogger connectionLogger, ILogger logger,
        Func<Socket, CancellationToken, ValueTask<Socket>> accept, ConnectionsPerIp perIp, ConnectionPoller? poller,
        ListenerAdmission admission, IpConnectionCreationRates? ipRates) : IConnectionListener
    {
        private readonly BlockMemoryPool _pool = new(limits.PooledBlocksMax);
        private readonly ILogger _logger = logger;
        private readonly CancellationTokenSource _unbinding = new();
        private volatile bool _unbound;
        private int _throttledSockets;

        public EndPoint EndPoint { get; } = socket.LocalEndPoint!;

        /// <summary>
        /// The next connection, or null once unbound. Kestrel's accept loop ends for good at the first exception this
        /// throws, so it throws none: a failure to accept or to start a connection (out of descriptors or memory) is
        /// logged, waited out with a growing delay (<see cref="AcceptRetryDelayMin"/> doubling to
        /// <see cref="AcceptRetryDelayMax"/>, so a listener out of descriptors does not spin on its readable socket),
        /// and accepting goes on, recovering once descriptors are free again.
        /// </summary>
        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            var failures = 0;
            while (true)
            {
                if (_unbound || cancellationToken.IsCancellationRequested)
                {
                    return null;
                }

                Socket? accepted = null;
                IPAddress? slot = null;
                var listenerSlot = false;
                try
                {
                    accepted = await accept(socket, cancellationToken).ConfigureAwait(false);
                    if (accepted.RemoteEndPoint is IPEndPoint remote)
                    {
                        if (ipRates?.RecordAndGetThrottleTimeMs(remote.Address) is ( > 0 and var throttleMs, var rate, var first))
                        {
                            // connection_creation_rate of the client's ip entity: as Kafka's acceptor, the connection
                            // is held unread for the throttle time and then closed, so the client does not reconnect
                            // at once; other addresses are not affected.
                            if (first)
                            {
                                LogIpThrottled(remote.Address.ToString(), rate, throttleMs);
                            }

                            CloseAfter(accepted, throttleMs);
                            continue;
                        }

                        if (!perIp.TryAcquire(remote.Address))
                        {
                            // max.connections.per.ip: closed before it costs a thread or a buffer, as Kafka's acceptor does.
                            LogRefusedPerIp(remote.Address.ToString(), perIp.LimitFor(remote.Address));
                            accepted.Dispose();
                            continue;
                        }

                        slot = remote.Address;
                    }

                    if (admission.Connections is { } own)
                    {
                        if (!own.TryAcquire())
                        {
                            // listener.name.<l>.max.connections: this listener is full; the others are not affected.
                            LogRefusedPerListener($"{EndPoint}", own.Key, own.Limit);
                            accepted.Dispose();
                            Release(slot);
                            continue;
                        }

                        listenerSlot = true;
                    }

                    accepted.NoDelay = true;
                    var address = slot;
                    Action? disposed = slot is not null || listenerSlot
                        ? () =>
                        {
                            Release(address);
                            admission.Connections?.Release();
                        }
                    : null;
                    ConnectionContext connection;
                    if (admission.Tls)
                    {
                        // TLS runs its SslStream straight over the socket (TlsConnectionMiddleware).
                        connection = new SocketStreamConnection(accepted, connectionLogger) { Disposed = disposed };
                    }
                    else
                    {
                        var socketConnection = new SocketConnection(accepted, _pool, limits, connectionLogger, poller) { Disposed = disposed };
                        socketConnection.Start();
                        connection = socketConnection;
                    }

                    await WaitForCreationRateAsync(cancellationToken).ConfigureAwait(false);
                    return connection;
                }
                catch (ObjectDisposedException) when (_unbound)
                {
                    return null;
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested || _unbound)
                {
                    return null;
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.OperationAborted && _unbound)
                {
                    return null; // unbound while waiting
                }
                catch (SocketException e) when (accepted is null && e.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset)
                {
                    // A connection that failed between the kernel's accept queue and here; the next one may be fine.
                    LogAcceptFailed(e.SocketErrorCode);
                    continue;
                }
                catch (Exception e)
                {
                    // Out of descriptors (accept's EMFILE/ENFILE, or the connection's thread or eventfd that could not
                    // be had), out of memory, or anything else: this connection is lost, the listener is not.
                    accepted?.Dispose();
                    Release(slot);
                    if (listenerSlot)
                    {
                        admission.Connections?.Release();
                    }

                    failures++;
                    var delay = RetryDelay(failures);
                    LogAcceptFailing(e.GetType().Name, e.Message, failures, (long)delay.TotalMilliseconds, e);
                }

                try
                {
                    await Task.Delay(RetryDelay(failures), cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return null;
                }
            }
        }

        /// <summary>
        /// max.connection.creation.rate: past the rate (broker-wide or this listener's), the connection just taken goes
        /// on, and the next accept waits until the rate is back within it; the kernel queues new clients meanwhile.
        /// </summary>
        private async ValueTask WaitForCreationRateAsync(CancellationToken cancellationToken)
        {
            var throttleMs = 0L;
            ConnectionCreationRate? limiting = null;
            foreach (var rate in admission.CreationRates)
            {
                var ms = rate.RecordAndGetThrottleTimeMs();
                if (ms > throttleMs)
                {
                    (throttleMs, limiting) = (ms, rate);
                }
            }

            if (limiting is not null)
            {
                LogCreationRateExceeded($"{EndPoint}", limiting.Name, limiting.RatePerSecond, throttleMs);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(throttleMs), cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        private void CloseAfter(Socket throttled, long throttleMs)
        {
            if (Interlocked.Increment(ref _throttledSockets) > ThrottledSocketsMax)
            {
                Interlocked.Decrement(ref _throttledSockets);
                throttled.Dispose();
                return;
            }

            _ = CloseLaterAsync(throttled, throttleMs);
        }

        private async Task CloseLaterAsync(Socket throttled, long throttleMs)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(throttleMs), _unbinding.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                throttled.Dispose();
                Interlocked.Decrement(ref _throttledSockets);
            }
        }

        private void Release(IPAddress? address)
        {
            if (address is not null)
            {
                perIp.Release(address);
            }
        }

        private static TimeSpan RetryDelay(int failures) =>
            TimeSpan.FromTicks(Math.Min(AcceptRetryDelayMax.Ticks, AcceptRetryDelayMin.Ticks << Math.Min(failures - 1, 20)));

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            _unbound = true;
            socket.Dispose();
            _unbinding.Cancel();
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            _unbound = true;
            socket.Dispose();
            _unbinding.Cancel();

            // Kestrel disposes a listener once its connections are closed; any still parked wake on threads of their own.
            poller?.Dispose();
            _pool.Dispose();
            return ValueTask.CompletedTask;
        }

        [LoggerMessage(EventId = 313, Level = LogLevel.Debug, Message = "Accept failed: {Error}")]
        private partial void LogAcceptFailed(SocketError error);

        [LoggerMessage(EventId = 316, Level = LogLevel.Information,
            Message = "Refused a connection from {Address}: it holds the configured maximum of {Limit} connections (max.connections.per.ip)")]
        private partial void LogRefusedPerIp(string address, int limit);

        [LoggerMessage(EventId = 333, Level = LogLevel.Information,
            Message = "Throttling connections from {Address}: closing them after {ThrottleMs} ms, they exceed its connection_creation_rate quota ({Rate} per second)")]
        private partial void LogIpThrottled(string address, int rate, long throttleMs);

        [LoggerMessage(EventId = 332, Level = LogLevel.Information,
            Message = "Listener {Endpoint} refused a connection: it holds the configured maximum of {Limit} connections ({Key})")]
        private partial void LogRefusedPerListener(string endpoint, string key, int limit);

        [LoggerMessage(EventId = 331, Level = LogLevel.Information,
            Message = "Listener {Endpoint} accepts nothing for {ThrottleMs} ms: new connections exceed {Key} ({Rate} per second)")]
        private partial void LogCreationRateExceeded(string endpoint, string key, int rate, long throttleMs);

        [LoggerMessage(EventId = 315, Level = LogLevel.Error,
            Message = "Accepting a connection failed ({Exception}: {Reason}), {Failures} time(s) in a row; accepting again in {DelayMs} ms")]
        private partial void LogAcceptFailing(string exception, string reason, int failures, long delayMs, Exception error);
    }
}
