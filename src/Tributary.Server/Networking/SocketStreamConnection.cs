using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;

namespace Tributary.Server.Networking;

/// <summary>
/// One accepted connection of a TLS listener, as Kestrel sees it: no receive thread and no pipes of its own. The
/// socket is offered as <see cref="IConnectionSocketFeature"/>, and <see cref="TlsConnectionMiddleware"/> runs its
/// <see cref="System.Net.Security.SslStream"/> straight over it (a <see cref="NetworkStream"/>), so ciphertext goes
/// from the kernel into the SslStream's buffer and from there back to the kernel, without the copies into and out of
/// <see cref="SocketConnection"/>'s pipes. Receives and sends are .NET's asynchronous socket operations: a connection
/// waiting for data holds no thread (so it needs no <see cref="ConnectionPoller"/>), and a request resumes on the
/// thread pool. <c>ConnectionClosed</c> fires when it is aborted, and at the latest when it is disposed.
/// </summary>
internal sealed partial class SocketStreamConnection : AcceptedConnection, IConnectionSocketFeature
{
    private static long _lastId;

    private readonly ILogger _logger;
    private readonly CancellationTokenSource _closed;
    private int _aborted;

    public SocketStreamConnection(Socket socket, ILogger logger)
        : this(socket, logger, new CancellationTokenSource())
    {
    }

    private SocketStreamConnection(Socket socket, ILogger logger, CancellationTokenSource closed)
        : base(socket, "t" + Interlocked.Increment(ref _lastId).ToString(System.Globalization.CultureInfo.InvariantCulture), closed.Token)
    {
        Socket = socket;
        _logger = logger;
        _closed = closed;

        // Until TLS replaces it: plaintext pipes over the socket, which nothing on a TLS listener reads.
        var stream = new NetworkStream(socket, ownsSocket: false);
        Transport = new DuplexPipe(PipeReader.Create(stream), PipeWriter.Create(stream));
        Features.Set<IConnectionSocketFeature>(this);
    }

    public Socket Socket { get; }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0)
        {
            return;
        }

        LogAborted(ConnectionId, abortReason.Message);

        // Ends a receive or a send that is waiting; the handler sees its read fail and stops.
        ConnectionEnd.Shutdown(Socket);
        ConnectionEnd.FireClosed(_closed);
    }

    public override ValueTask DisposeAsync()
    {
        // The TLS middleware has flushed and closed its SslStream: what it wrote is with the kernel already.
        Interlocked.Exchange(ref _aborted, 1);
        ConnectionEnd.Shutdown(Socket);
        try
        {
            _closed.Cancel();
        }
        catch (AggregateException e)
        {
            LogClosedCallbackFailed(ConnectionId, e);
        }

        Socket.Dispose();
        _closed.Dispose();
        RunDisposed();
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 312, Level = LogLevel.Debug, Message = "Connection {ConnectionId} aborted: {Reason}")]
    private partial void LogAborted(string connectionId, string reason);

    [LoggerMessage(EventId = 314, Level = LogLevel.Warning, Message = "Connection {ConnectionId}: a callback of its closing failed")]
    private partial void LogClosedCallbackFailed(string connectionId, Exception exception);
}
