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
/// Response bytes a connection holds before the handler waits for the socket to take them. 4 MiB rather than 1: a
/// consumer's fetch answer is often several MiB, and each pause hands the connection between the handler and the send
/// loop (consume of 1 KB records, three A/B pairs: 1,706-1,818 MB/s with 4 MiB, 1,491-1,626 MB/s with 1 MiB).
/// </param>
/// <param name="PooledBlocksMax">Idle <see cref="BlockMemoryPool.BlockBytes"/> blocks kept for reuse by all connections.</param>
public sealed record SocketTransportLimits(int InputBufferBytesMax, int OutputBufferBytesMax, int PooledBlocksMax)
{
    public static SocketTransportLimits Default { get; } = new(1024 * 1024, 4 * 1024 * 1024, 256);
}

/// <summary>
/// Tributary's TCP transport under Kestrel. Kestrel's own socket transport receives into 4 KiB blocks of a pool
/// whose size cannot be changed through public API; a Kafka producer sends requests of hundreds of KiB, and on 2 cores
/// the receives (two syscalls per 4 KiB) and the pipe wake-ups they cause were the broker's largest cost
/// (bench/README.md, "Third round"). This transport uses 256 KiB blocks and gives each connection a thread of its own
/// that receives, handles and answers its requests (<see cref="SocketConnection"/>): Kestrel still accepts through it,
/// limits connections (and so threads), and closes them gracefully.
/// </summary>
public sealed partial class SocketListenerFactory(SocketTransportLimits limits, ILoggerFactory loggerFactory) : IConnectionListenerFactory
{
    /// <summary>Pending connections the kernel queues before accept.</summary>
    public const int ListenBacklog = 512;

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

        return ValueTask.FromResult<IConnectionListener>(new Listener(socket, limits, loggerFactory.CreateLogger<SocketConnection>(), _logger));
    }

    private sealed partial class Listener(Socket socket, SocketTransportLimits limits, ILogger connectionLogger, ILogger logger) : IConnectionListener
    {
        private readonly BlockMemoryPool _pool = new(limits.PooledBlocksMax);
        private readonly ILogger _logger = logger;

        public EndPoint EndPoint { get; } = socket.LocalEndPoint!;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            while (true)
            {
                Socket accepted;
                try
                {
                    accepted = await socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (ObjectDisposedException)
                {
                    return null; // unbound
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.OperationAborted)
                {
                    return null; // unbound while waiting
                }
                catch (SocketException e)
                {
                    // A connection that failed between the kernel's accept queue and here; the next one may be fine.
                    LogAcceptFailed(e.SocketErrorCode);
                    continue;
                }

                accepted.NoDelay = true;
                var connection = new SocketConnection(accepted, _pool, limits, connectionLogger);
                connection.Start();
                return connection;
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            socket.Dispose();
            _pool.Dispose();
            return ValueTask.CompletedTask;
        }

        [LoggerMessage(EventId = 313, Level = LogLevel.Debug, Message = "Accept failed: {Error}")]
        private partial void LogAcceptFailed(SocketError error);
    }
}
