using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace Tributary.Server.Networking;

/// <summary>
/// One accepted connection of a TLS listener, as Kestrel sees it: no receive thread and no pipes of its own. The
/// socket is offered as <see cref="IConnectionSocketFeature"/>, and <see cref="TlsConnectionMiddleware"/> runs its
/// <see cref="System.Net.Security.SslStream"/> straight over it (a <see cref="NetworkStream"/>), so ciphertext goes
/// from the kernel into the SslStream's buffer and from there back to the kernel, without the copies into and out of
/// <see cref="SocketConnection"/>'s pipes. Receives and sends are .NET's asynchronous socket operations: a connection
/// waiting for data holds no thread (so it needs no <see cref="ConnectionPoller"/>), and a request resumes on the
/// thread pool. <see cref="ConnectionClosed"/> fires when it is aborted, and at the latest when it is disposed.
/// </summary>
internal sealed partial class SocketStreamConnection : ConnectionContext, IConnectionIdFeature, IConnectionTransportFeature,
    IConnectionItemsFeature, IConnectionLifetimeFeature, IConnectionEndPointFeature, IConnectionSocketFeature
{
    private static long _lastId;

    private readonly ILogger _logger;
    private readonly CancellationTokenSource _closed = new();
    private int _aborted;
    private Action? _disposed;

    public SocketStreamConnection(Socket socket, ILogger logger)
    {
        Socket = socket;
        _logger = logger;
        ConnectionId = "t" + Interlocked.Increment(ref _lastId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        LocalEndPoint = socket.LocalEndPoint;
        RemoteEndPoint = socket.RemoteEndPoint;

        // Until TLS replaces it: plaintext pipes over the socket, which nothing on a TLS listener reads.
        var stream = new NetworkStream(socket, ownsSocket: false);
        Transport = new DuplexPipe(PipeReader.Create(stream), PipeWriter.Create(stream));
        ConnectionClosed = _closed.Token;
        Features.Set<IConnectionIdFeature>(this);
        Features.Set<IConnectionTransportFeature>(this);
        Features.Set<IConnectionItemsFeature>(this);
        Features.Set<IConnectionLifetimeFeature>(this);
        Features.Set<IConnectionEndPointFeature>(this);
        Features.Set<IConnectionSocketFeature>(this);
    }

    public Socket Socket { get; }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override IDuplexPipe Transport { get; set; }

    public override CancellationToken ConnectionClosed { get; set; }

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    /// <summary>Runs once the connection is disposed (the listener gives back its per-address and listener slots).</summary>
    internal Action? Disposed
    {
        get => _disposed;
        set => _disposed = value;
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0)
        {
            return;
        }

        LogAborted(ConnectionId, abortReason.Message);

        // Ends a receive or a send that is waiting; the handler sees its read fail and stops.
        Shutdown();
        FireClosed();
    }

    public override ValueTask DisposeAsync()
    {
        // The TLS middleware has flushed and closed its SslStream: what it wrote is with the kernel already.
        Interlocked.Exchange(ref _aborted, 1);
        Shutdown();
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
        Interlocked.Exchange(ref _disposed, null)?.Invoke();
        return ValueTask.CompletedTask;
    }

    private void Shutdown()
    {
        try
        {
            Socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void FireClosed()
    {
        // Handlers' callbacks run on the thread pool, never on the aborting thread.
        ThreadPool.UnsafeQueueUserWorkItem(static state =>
        {
            try
            {
                state.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }, _closed, preferLocal: false);
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    [LoggerMessage(EventId = 312, Level = LogLevel.Debug, Message = "Connection {ConnectionId} aborted: {Reason}")]
    private partial void LogAborted(string connectionId, string reason);

    [LoggerMessage(EventId = 314, Level = LogLevel.Warning, Message = "Connection {ConnectionId}: a callback of its closing failed")]
    private partial void LogClosedCallbackFailed(string connectionId, Exception exception);
}
