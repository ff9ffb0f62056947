using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Tributary.Server.Networking;

/// <summary>
/// One accepted TCP connection as Kestrel sees it, on a thread of its own. That thread receives into the input pipe
/// (<see cref="SocketReceiver"/>), and the pipe's reader (the handler) runs inline on it; the handler's flushes run the
/// send loop (<see cref="SocketSender"/>) inline, which on this thread sends at once and waits (poll) while the socket's
/// buffer is full. So a request is received, handled and answered on one thread, with no hand-off to another thread
/// that could wait for a vCPU. A parked fetch that an append (or its deadline) wakes resumes on this thread too: the
/// waker posts it to <see cref="ConnectionThreadContext"/>, which this thread polls beside the socket. Any other
/// request the handler cannot answer at once (an fsync, a rebalance) resumes on the thread that completes it, a
/// thread-pool thread, whose sends wait for room asynchronously.
/// The socket is non-blocking throughout. Pipes hold <see cref="BlockMemoryPool"/> blocks. Ends when the client
/// closes, when a send or receive fails, or when Kestrel (or the handler) aborts it. <c>ConnectionClosed</c>
/// fires when the connection breaks or is aborted, and at the latest when it is disposed; not at a clean end of
/// stream, whose client still gets its answers.
/// A connection waiting between requests with nothing received for <see cref="SocketTransportLimits.ParkAfterIdleMs"/>
/// parks: its thread ends and its socket waits in the <see cref="ConnectionPoller"/>, which starts a new thread for it
/// once the socket is readable or hung up, so idle connections cost no thread.
/// </summary>
internal sealed partial class SocketConnection : AcceptedConnection, IConnectionThreadFeature
{
    /// <summary>Longest a closing connection waits for the client to take the answers already written.</summary>
    public static readonly TimeSpan DrainTimeMax = TimeSpan.FromSeconds(5);

    /// <summary>Stack reserved for a connection's thread, in bytes.</summary>
    private const int ThreadStackBytes = 512 * 1024;

    private static long _lastId;

    private readonly Socket _socket;
    private readonly ILogger _logger;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly CancellationTokenSource _closed;
    private readonly Lock _abortLock = new();
    private readonly SocketOutput _outputWriter;
    private readonly SocketReceiver _receiver;
    private readonly SocketSender _sender;
    private readonly TaskCompletionSource _receiving = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _sending = Task.CompletedTask;

    // Where a waiting request resumes: this connection's thread (null where not available: the thread pool).
    private readonly ConnectionThreadContext? _threadContext = ConnectionThreadContext.TryCreate();

    // Where the socket waits while the connection is parked (null: never parks), and under which key.
    private readonly ConnectionPoller? _poller;
    private readonly long _key;
    private readonly Action _wake;
    private bool _inPollerSet;
    private volatile bool _awaitingRequest;

    private volatile bool _aborted;

    public SocketConnection(Socket socket, BlockMemoryPool pool, SocketTransportLimits limits, ILogger logger, ConnectionPoller? poller = null)
        : this(socket, pool, limits, logger, poller, Interlocked.Increment(ref _lastId), new CancellationTokenSource())
    {
    }

    private SocketConnection(Socket socket, BlockMemoryPool pool, SocketTransportLimits limits, ILogger logger, ConnectionPoller? poller, long key,
        CancellationTokenSource closed)
        : base(socket, "c" + key.ToString(System.Globalization.CultureInfo.InvariantCulture), closed.Token)
    {
        _socket = socket;
        _socket.Blocking = false;
        _logger = logger;
        _key = key;
        _closed = closed;
        _poller = limits.ParkAfterIdleMs >= 0 && _threadContext is not null ? poller : null;
        _wake = Wake;
        var portTag = new KeyValuePair<string, object?>("network.local.port", (LocalEndPoint as IPEndPoint)?.Port);
        // Inline: the handler runs on the thread that flushes the input (the receive thread), the send loop on the
        // thread that flushes the output (the handler's), and a flush that waited resumes on the thread that freed room.
        _input = new Pipe(new PipeOptions(pool, PipeScheduler.Inline, PipeScheduler.Inline,
            limits.InputBufferBytesMax, limits.InputBufferBytesMax / 2, BlockMemoryPool.BlockBytes, useSynchronizationContext: false));
        _output = new Pipe(new PipeOptions(pool, PipeScheduler.Inline, PipeScheduler.Inline,
            limits.OutputBufferBytesMax, limits.OutputBufferBytesMax / 2, BlockMemoryPool.BlockBytes, useSynchronizationContext: false));
        _outputWriter = new SocketOutput(_output.Writer, limits.OutputBufferBytesMax, _output.Reader.CancelPendingRead);
        _receiver = new SocketReceiver(socket, _input.Writer, _threadContext, limits.ParkAfterIdleMs, _poller is null ? null : TryPark);
        _sender = new SocketSender(socket, _output.Reader, _outputWriter, portTag, ConnectionId, logger);
        Transport = new DuplexPipe(_input.Reader, _outputWriter);
        Features.Set<IConnectionThreadFeature>(this);
    }

    public SynchronizationContext? ResumeContext => _threadContext;

    public bool AwaitingRequest
    {
        get => _awaitingRequest;
        set => _awaitingRequest = value;
    }

    /// <summary>
    /// Whether file ranges go out with sendfile(2) (<see cref="FileRangeSender.SendFileEnabled"/>). Tests turn it off to
    /// exercise the copying path.
    /// </summary>
    internal bool SendFileEnabled
    {
        get => _sender.FileRanges.SendFileEnabled;
        set => _sender.FileRanges.SendFileEnabled = value;
    }

    /// <summary>Whether TCP_CORK is set on the socket now (tests: it must be clear once a response has gone out).</summary>
    internal bool Corked => _sender.Corked;

    public void Start()
    {
        // The send loop first, so it is waiting on the output before the handler can write to it.
        _sending = SendAsync();
        try
        {
            StartThread();
        }
        catch
        {
            // No thread (out of memory or descriptors): nothing was received, so the connection is closed at once; the
            // caller (the listener) logs it and goes on accepting.
            _input.Writer.Complete();
            _input.Reader.Complete();
            _output.Writer.Complete();
            _sender.Stop();
            _threadContext?.Close();
            _receiving.TrySetResult();
            ConnectionEnd.Shutdown(_socket);
            _socket.Dispose();
            throw;
        }
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        lock (_abortLock)
        {
            if (_aborted)
            {
                return;
            }

            _aborted = true;
        }

        LogAborted(ConnectionId, abortReason.Message);

        // The send loop stops at its next read; shutting the socket down ends a receive that is waiting, or wakes a
        // parked one, unless it is taken back from the poller first.
        _sender.Stop();
        Unpark();
        ConnectionEnd.Shutdown(_socket);
    }

    public override async ValueTask DisposeAsync()
    {
        _input.Reader.Complete();

        // The handler is done: a parked receive is taken back before the socket shuts down (which would wake it on a
        // new thread only to end).
        Unpark();

        // The handler is done: answers it flushed but the socket has not taken yet still go out (the send loop ends
        // once the completed output is drained), unless the client does not take them within the drain limit: a send
        // waiting for room on this connection's thread gives up then.
        _sender.StopWaitingForRoomAfter(DrainTimeMax);
        _output.Writer.Complete();
        if (!_aborted)
        {
            try
            {
                await _sending.WaitAsync(DrainTimeMax).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
        }

        _aborted = true;
        _sender.Stop();
        ConnectionEnd.Shutdown(_socket);
        try
        {
            _closed.Cancel(); // at the latest now, and before it is disposed; the handler is done
        }
        catch (AggregateException e)
        {
            LogClosedCallbackFailed(ConnectionId, e);
        }

        await _receiving.Task.ConfigureAwait(false);
        await _sending.ConfigureAwait(false);
        _socket.Dispose();
        _closed.Dispose();
        RunDisposed();
    }

    private void StartThread()
    {
        var thread = new Thread(Receive, ThreadStackBytes) { Name = "tributary-connection", IsBackground = true };
        _sender.OwnThreadId = thread.ManagedThreadId;
        thread.Start();
    }

    /// <summary>The connection's thread: receives until the input ends, then reports how it ended, or until it parks.</summary>
    private void Receive()
    {
        Exception? error = null;
        try
        {
            if (_receiver.Run())
            {
                return; // parked: the poller owns the connection until it wakes it on a new thread
            }
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown or SocketError.OperationAborted)
        {
            // An abort ends the input as a normal end of stream: the handler stops reading, nobody is to blame.
            error = _aborted ? null : new ConnectionResetException(e.Message, e);
        }
        catch (ObjectDisposedException)
        {
        }
        catch (Exception e)
        {
            LogReceiveFailed(ConnectionId, e);
            error = new IOException(e.Message, e);
        }

        EndReceiving(error);
    }

    /// <summary>The receiving side has ended (<paramref name="error"/>: how, if it broke): reports it to the handler.</summary>
    private void EndReceiving(Exception? error)
    {
        try
        {
            _input.Writer.Complete(error);
            if (error is not null)
            {
                // The connection broke: whoever is writing the output learns that nobody will read its answers. A
                // client that only closed its sending side still gets the answers to what it sent.
                _sender.Stop();
            }

            // A clean end of stream is the client closing only its sending side: the handler still answers what it
            // read (it sees the input completed) and then ends the connection. Firing ConnectionClosed now would
            // cancel those answers if the handler had not read them yet. A broken or aborted connection fires it.
            if (error is not null || _aborted)
            {
                ConnectionEnd.FireClosed(_closed);
            }
        }
        finally
        {
            // What is posted from now on (a parked fetch's answer after the client's end of stream) runs on the
            // thread pool.
            _threadContext?.Close();
            _receiving.TrySetResult();
        }
    }

    /// <summary>
    /// On the connection's thread, when its wait for data timed out: parks the connection if the handler waits for its
    /// next request with nothing received, queued or in flight. True if parked: the thread ends at once.
    /// </summary>
    private bool TryPark()
    {
        if (!_awaitingRequest || _aborted || _poller!.IsStopped || !_threadContext!.TryRelease())
        {
            return false;
        }

        // Given up before the socket is armed: the poller may wake it on a new thread before Park returns.
        _sender.OwnThreadId = 0;
        if (_poller.Park(_socket.SafeHandle.DangerousGetHandle(), _key, _wake, ref _inPollerSet))
        {
            return true;
        }

        _sender.OwnThreadId = Environment.CurrentManagedThreadId;
        return _threadContext.TryReacquire() ? false : throw new IOException("no descriptor for the connection's eventfd");
    }

    /// <summary>On the poller's thread: the parked socket is readable or hung up (or the poller stops); a thread takes it again.</summary>
    private void Wake()
    {
        try
        {
            if (!_threadContext!.TryReacquire())
            {
                throw new IOException("no descriptor for the connection's eventfd");
            }

            StartThread();
        }
        catch (Exception e)
        {
            // Out of descriptors or memory: this connection ends, as one that could not be accepted.
            LogReceiveFailed(ConnectionId, e);
            EndReceiving(e as IOException ?? new IOException(e.Message, e));
        }
    }

    /// <summary>Takes a parked receive back from the poller (the connection is closing) and ends it here.</summary>
    private void Unpark()
    {
        if (_poller is not null && _poller.TryUnpark(_socket.SafeHandle.DangerousGetHandle(), _key))
        {
            EndReceiving(null);
        }
    }

    /// <summary>Runs the send loop until the output completes, the connection stops it, or a send fails.</summary>
    private async Task SendAsync()
    {
        try
        {
            await _sender.RunAsync().ConfigureAwait(false);
        }
        catch (SocketException)
        {
            // The peer is gone (the receive loop may have ended at its end of stream before): a request still waiting
            // (a parked fetch) stops waiting.
            ConnectionEnd.FireClosed(_closed);
        }
        catch (ObjectDisposedException)
        {
        }
        catch (Exception e)
        {
            LogSendFailed(ConnectionId, e);
        }
        finally
        {
            _outputWriter.Close();
            await _output.Reader.CompleteAsync().ConfigureAwait(false);
            ConnectionEnd.Shutdown(_socket);
        }
    }

    [LoggerMessage(EventId = 314, Level = LogLevel.Warning, Message = "Connection {ConnectionId}: a callback of its closing failed")]
    private partial void LogClosedCallbackFailed(string connectionId, Exception exception);

    [LoggerMessage(EventId = 312, Level = LogLevel.Debug, Message = "Connection {ConnectionId} aborted: {Reason}")]
    private partial void LogAborted(string connectionId, string reason);

    [LoggerMessage(EventId = 310, Level = LogLevel.Warning, Message = "Connection {ConnectionId}: receive failed")]
    private partial void LogReceiveFailed(string connectionId, Exception exception);

    [LoggerMessage(EventId = 311, Level = LogLevel.Warning, Message = "Connection {ConnectionId}: send failed")]
    private partial void LogSendFailed(string connectionId, Exception exception);
}
