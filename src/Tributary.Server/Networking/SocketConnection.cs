using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace Tributary.Server.Networking;

/// <summary>
/// One accepted TCP connection as Kestrel sees it, on a thread of its own. That thread waits for data (poll), receives
/// it into the input pipe, and the pipe's reader (the handler) runs inline on it; the handler's flushes run the send
/// loop inline, which on this thread sends at once and waits (poll) while the socket's buffer is full. So a request is
/// received, handled and answered on one thread, with no hand-off to another thread that could wait for a vCPU.
/// A parked fetch that an append (or its deadline) wakes resumes on this thread
/// too: the waker posts it to <see cref="ConnectionThreadContext"/>, which this thread polls beside the socket.
/// Any other request the handler cannot answer at once (an fsync, a rebalance) resumes on the
/// thread that completes it, a thread-pool thread: the send loop there sends without ever blocking, waiting for room
/// asynchronously, so a client that stops reading holds only its own connection's thread.
/// The socket is non-blocking throughout. Pipes hold <see cref="BlockMemoryPool"/> blocks. Ends when the client
/// closes, when a send or receive fails, or when Kestrel (or the handler) aborts it. <see cref="ConnectionClosed"/>
/// fires when the connection breaks or is aborted, and at the latest when it is disposed; not at a clean end of
/// stream, whose client still gets its answers.
/// </summary>
internal sealed partial class SocketConnection : ConnectionContext, IConnectionIdFeature, IConnectionTransportFeature,
    IConnectionItemsFeature, IConnectionLifetimeFeature, IConnectionEndPointFeature, IConnectionThreadFeature
{
    /// <summary>Smallest free space, in bytes, a receive reads into; less than this left in a block starts a new block.</summary>
    private const int ReceiveBytesMin = BlockMemoryPool.BlockBytes / 2;

    /// <summary>Longest a closing connection waits for the client to take the answers already written.</summary>
    public static readonly TimeSpan DrainTimeMax = TimeSpan.FromSeconds(5);

    /// <summary>Stack reserved for a connection's thread, in bytes.</summary>
    private const int ThreadStackBytes = 512 * 1024;

    /// <summary>Blocks one gathering send hands the kernel (below Linux's 1,024 iovecs per sendmsg).</summary>
    private const int SendSegmentsMax = 256;

    private const int IpProtocolTcp = 6;
    private const int TcpCork = 3; // Linux's TCP_CORK option

    private static long _lastId;

    private readonly Socket _socket;
    private readonly ILogger _logger;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly CancellationTokenSource _closed = new();
    private readonly Lock _abortLock = new();
    private readonly List<ArraySegment<byte>> _sendSegments = new(SendSegmentsMax);
    private readonly SocketOutput _outputWriter;
    private readonly KeyValuePair<string, object?> _portTag;
    private long _pipeBytesSent;
    private bool _corkEnabled = OperatingSystem.IsLinux();
    private readonly TaskCompletionSource _receiving = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _sending = Task.CompletedTask;
    private int _threadId;

    // Where a waiting request resumes: this connection's thread (null where not available: the thread pool).
    private readonly ConnectionThreadContext? _threadContext = ConnectionThreadContext.TryCreate();

    // When a send on the connection's own thread stops waiting for room (Stopwatch ticks): set when closing.
    private long _sendDeadline = long.MaxValue;
    private volatile bool _aborted;

    // Set before every CancelPendingRead of the output that is meant to end the send loop; the others only wake it.
    private volatile bool _sendStopped;

    public SocketConnection(Socket socket, BlockMemoryPool pool, SocketTransportLimits limits, ILogger logger)
    {
        _socket = socket;
        _socket.Blocking = false;
        _logger = logger;
        ConnectionId = "c" + Interlocked.Increment(ref _lastId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        LocalEndPoint = socket.LocalEndPoint;
        RemoteEndPoint = socket.RemoteEndPoint;
        _portTag = new KeyValuePair<string, object?>("network.local.port", (LocalEndPoint as IPEndPoint)?.Port);
        // Inline: the handler runs on the thread that flushes the input (the receive thread), the send loop on the
        // thread that flushes the output (the handler's), and a flush that waited resumes on the thread that freed room.
        _input = new Pipe(new PipeOptions(pool, PipeScheduler.Inline, PipeScheduler.Inline,
            limits.InputBufferBytesMax, limits.InputBufferBytesMax / 2, BlockMemoryPool.BlockBytes, useSynchronizationContext: false));
        _output = new Pipe(new PipeOptions(pool, PipeScheduler.Inline, PipeScheduler.Inline,
            limits.OutputBufferBytesMax, limits.OutputBufferBytesMax / 2, BlockMemoryPool.BlockBytes, useSynchronizationContext: false));
        _outputWriter = new SocketOutput(_output.Writer, limits.OutputBufferBytesMax, _output.Reader.CancelPendingRead);
        Transport = new DuplexPipe(_input.Reader, _outputWriter);
        ConnectionClosed = _closed.Token;
        Features.Set<IConnectionIdFeature>(this);
        Features.Set<IConnectionTransportFeature>(this);
        Features.Set<IConnectionItemsFeature>(this);
        Features.Set<IConnectionLifetimeFeature>(this);
        Features.Set<IConnectionEndPointFeature>(this);
        Features.Set<IConnectionThreadFeature>(this);
    }

    public SynchronizationContext? ResumeContext => _threadContext;

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override IDuplexPipe Transport { get; set; }

    public override CancellationToken ConnectionClosed { get; set; }

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    public void Start()
    {
        // The send loop first, so it is waiting on the output before the handler can write to it.
        _sending = SendLoopAsync();
        try
        {
            var thread = new Thread(ReceiveLoop, ThreadStackBytes) { Name = "tributary-connection", IsBackground = true };
            _threadId = thread.ManagedThreadId;
            thread.Start();
        }
        catch
        {
            // No thread (out of memory or descriptors): nothing was received, so the connection is closed at once; the
            // caller (the listener) logs it and goes on accepting.
            _input.Writer.Complete();
            _input.Reader.Complete();
            _output.Writer.Complete();
            _sendStopped = true;
            _output.Reader.CancelPendingRead();
            _threadContext?.Close();
            _receiving.TrySetResult();
            ShutdownSocket();
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

        // The send loop stops at its next read; shutting the socket down ends a receive that is waiting.
        _sendStopped = true;
        _output.Reader.CancelPendingRead();
        ShutdownSocket();
    }

    public override async ValueTask DisposeAsync()
    {
        _input.Reader.Complete();

        // The handler is done: answers it flushed but the socket has not taken yet still go out (the send loop ends
        // once the completed output is drained), unless the client does not take them within the drain limit: a send
        // waiting for room on this connection's thread gives up then.
        Volatile.Write(ref _sendDeadline, Stopwatch.GetTimestamp() + (long)(DrainTimeMax.TotalSeconds * Stopwatch.Frequency));
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
        _sendStopped = true;
        _output.Reader.CancelPendingRead();
        ShutdownSocket();
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
        Interlocked.Exchange(ref _disposed, null)?.Invoke();
    }

    private Action? _disposed;

    /// <summary>Runs once the connection is disposed (the listener gives back its per-address slot).</summary>
    internal Action? Disposed
    {
        get => _disposed;
        set => _disposed = value;
    }

    /// <summary>
    /// The connection's thread: waits for data (poll), receives it into the input pipe and flushes, which runs the
    /// handler inline. A flush that has to wait (the handler holds <see cref="SocketTransportLimits.InputBufferBytesMax"/>
    /// unread, while it waits for something else) blocks this thread, which stops reading the socket.
    /// </summary>
    private void ReceiveLoop()
    {
        Exception? error = null;
        var context = _threadContext;
        var socketFd = context is null ? -1 : _socket.SafeHandle.DangerousGetHandle();
        try
        {
            var writer = _input.Writer;
            var filledLast = false;
            while (true)
            {
                if (!filledLast)
                {
                    // Wait for data before taking a block, so an idle connection holds none; meanwhile run what other
                    // threads posted (a parked fetch woken).
                    if (context is null)
                    {
                        _socket.Poll(-1, SelectMode.SelectRead);
                    }
                    else if (!context.Wait(socketFd))
                    {
                        continue;
                    }
                }
                else if (context is { HasWork: true })
                {
                    context.RunPosted();
                }

                var memory = writer.GetMemory(ReceiveBytesMin);
                var received = _socket.Receive(memory.Span, SocketFlags.None, out var receiveError);
                if (receiveError == SocketError.WouldBlock)
                {
                    filledLast = false; // nothing yet after all: wait for it
                    continue;
                }

                if (receiveError != SocketError.Success)
                {
                    throw new SocketException((int)receiveError);
                }

                if (received == 0)
                {
                    break; // the client closed its side
                }

                filledLast = received == memory.Length;
                writer.Advance(received);
                var flush = writer.FlushAsync();
                var flushed = flush.IsCompleted ? flush.Result : WaitForFlush(flush, context);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    break; // the handler stopped reading
                }
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
        finally
        {
            try
            {
                _input.Writer.Complete(error);
                if (error is not null)
                {
                    // The connection broke: whoever is writing the output learns that nobody will read its answers. A
                    // client that only closed its sending side still gets the answers to what it sent.
                    _sendStopped = true;
                    _output.Reader.CancelPendingRead();
                }

                // A clean end of stream is the client closing only its sending side: the handler still answers what it
                // read (it sees the input completed) and then ends the connection. Firing ConnectionClosed now would
                // cancel those answers if the handler had not read them yet. A broken or aborted connection fires it.
                if (error is not null || _aborted)
                {
                    FireClosed();
                }
            }
            finally
            {
                // What is posted from now on (a parked fetch's answer after the client's end of stream) runs on the
                // thread pool.
                context?.Close();
                _receiving.TrySetResult();
            }
        }
    }

    /// <summary>
    /// Waits for a flush of the input that could not complete (the handler holds as much unread as the pipe allows),
    /// running posted work meanwhile: the handler may be waiting for exactly that (a parked fetch ahead of pipelined
    /// requests), and its resuming is what reads the input and lets the flush complete.
    /// </summary>
    private static FlushResult WaitForFlush(ValueTask<FlushResult> flush, ConnectionThreadContext? context)
    {
        var task = flush.AsTask();
        if (context is null)
        {
            return task.GetAwaiter().GetResult();
        }

        task.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(context.Wake);
        while (!task.IsCompleted)
        {
            context.Wait(-1);
        }

        return task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Drains the output pipe. It waits on the pipe asynchronously and runs inline on whichever thread flushes the
    /// output. On the connection's own thread it sends before that flush returns, waiting for room if it must; on any
    /// other thread it waits for room asynchronously.
    /// </summary>
    private async Task SendLoopAsync()
    {
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync().ConfigureAwait(false);
                if (read.IsCanceled && _sendStopped)
                {
                    break;
                }

                // Pipe bytes up to each file range placed among them, the range itself (sendfile), then the rest,
                // corked: the small pieces between ranges leave with the ranges' bytes instead of as packets of
                // their own, each of which would wake the client.
                var buffer = read.Buffer;
                var corked = false;
                while (_outputWriter.TryPeekRange(_pipeBytesSent, buffer.Length, out var range))
                {
                    corked = corked || Cork(true);
                    var before = range.PipePosition - _pipeBytesSent;
                    if (before > 0)
                    {
                        await SendAsync(buffer.Slice(0, before)).ConfigureAwait(false);
                        buffer = buffer.Slice(before);
                        _pipeBytesSent += before;
                    }

                    await SendFileRangeAsync(range).ConfigureAwait(false);
                    _outputWriter.RangeSent();
                }

                if (!buffer.IsEmpty)
                {
                    await SendAsync(buffer).ConfigureAwait(false);
                    _pipeBytesSent += buffer.Length;
                }

                if (corked)
                {
                    Cork(false); // sends what the cork held
                }

                reader.AdvanceTo(buffer.End);
                if (read.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (SocketException)
        {
            // The peer is gone (the receive loop may have ended at its end of stream before): a request still waiting
            // (a parked fetch) stops waiting.
            FireClosed();
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
            await reader.CompleteAsync().ConfigureAwait(false);
            ShutdownSocket();
        }
    }

    /// <summary>
    /// Sets or clears TCP_CORK (Linux): while set, TCP sends only full segments. True if it took effect; after a
    /// refusal (a platform without it) it is not tried again.
    /// </summary>
    private bool Cork(bool on)
    {
        if (!_corkEnabled)
        {
            return false;
        }

        try
        {
            Span<byte> value = stackalloc byte[sizeof(int)];
            MemoryMarshal.Write(value, on ? 1 : 0);
            _socket.SetRawSocketOption(IpProtocolTcp, TcpCork, value);
            return true;
        }
        catch (SocketException)
        {
            _corkEnabled = false;
            return false;
        }
    }

    /// <summary>Whether TCP_CORK is set on the socket now (tests: it must be clear once a response has gone out).</summary>
    internal bool Corked
    {
        get
        {
            Span<byte> value = stackalloc byte[sizeof(int)];
            _socket.GetRawSocketOption(IpProtocolTcp, TcpCork, value);
            return MemoryMarshal.Read<int>(value) != 0;
        }
    }

    /// <summary>True on the connection's own thread, where a send may wait for room; elsewhere sends never block.</summary>
    private bool OnOwnThread => Environment.CurrentManagedThreadId == _threadId;

    private ValueTask SendAsync(ReadOnlySequence<byte> buffer)
    {
        if (!buffer.IsSingleSegment)
        {
            return new ValueTask(SendGatheredAsync(buffer));
        }

        if (OnOwnThread)
        {
            SendAllHere(buffer.FirstSpan);
            return ValueTask.CompletedTask;
        }

        return IgnoreCount(_socket.SendAsync(buffer.First, SocketFlags.None));
    }

    private static async ValueTask IgnoreCount(ValueTask<int> send) => await send.ConfigureAwait(false);

    /// <summary>Sends all of <paramref name="bytes"/> on the connection's own thread, waiting while the socket's buffer is full.</summary>
    private void SendAllHere(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var sent = _socket.Send(bytes, SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock)
            {
                WaitForRoom();
                continue;
            }

            if (error != SocketError.Success)
            {
                throw new SocketException((int)error);
            }

            bytes = bytes[sent..];
        }
    }

    /// <summary>Waits (poll) until the socket's buffer has room; past the drain deadline of a closing connection it gives up.</summary>
    private void WaitForRoom()
    {
        var deadline = Volatile.Read(ref _sendDeadline);
        var waitMicroseconds = -1;
        if (deadline != long.MaxValue)
        {
            waitMicroseconds = (int)Math.Min(Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline).TotalMicroseconds, int.MaxValue);
            if (waitMicroseconds <= 0)
            {
                throw new SocketException((int)SocketError.TimedOut);
            }
        }

        if (!_socket.Poll(waitMicroseconds, SelectMode.SelectWrite))
        {
            throw new SocketException((int)SocketError.TimedOut);
        }
    }

    /// <summary>
    /// Whether file ranges go out with sendfile(2); false after sendfile refused a file (a file system that cannot
    /// splice), after which they are read and sent the ordinary way. Tests turn it off to exercise that path.
    /// </summary>
    internal bool SendFileEnabled { get; set; } = true;

    /// <summary>
    /// Sends a file range with sendfile(2): the kernel passes the page-cache pages to TCP, so the bytes are never copied
    /// into (or out of) the broker's memory. When the socket's buffer is full (EAGAIN), the connection's own thread
    /// waits for room and goes on; any other thread reads the next piece and sends it the ordinary way, which waits for
    /// room asynchronously, and sendfile takes over again.
    /// </summary>
    private async Task SendFileRangeAsync(SocketOutput.FileRange range)
    {
        var position = range.Position;
        var end = range.Position + range.Length;
        byte[]? piece = null;
        try
        {
            while (position < end)
            {
                if (SendFileEnabled)
                {
                    var sent = SendFile.Send(_socket.SafeHandle, range.File, ref position, end - position, out var errno);
                    if (sent > 0)
                    {
                        SendFile.BytesSent.Add(sent, _portTag);
                        continue;
                    }

                    if (sent == 0)
                    {
                        throw FileEnded(end - position);
                    }

                    if (errno == SendFile.EINTR)
                    {
                        continue;
                    }

                    if (errno is SendFile.EINVAL or SendFile.ENOSYS or SendFile.EOPNOTSUPP)
                    {
                        SendFileEnabled = false;
                        LogSendFileRefused(ConnectionId, errno);
                    }
                    else if (errno != SendFile.EAGAIN)
                    {
                        throw new SocketException(errno);
                    }
                    else if (OnOwnThread)
                    {
                        WaitForRoom();
                        continue;
                    }
                }

                // A piece read and sent the ordinary way: the send waits for room in the socket's buffer.
                var pieceBytes = SendFileEnabled ? SendFile.WaitPieceBytes : SendFile.CopyPieceBytes;
                piece ??= ArrayPool<byte>.Shared.Rent(pieceBytes);
                var read = SendFile.Read(range.File, piece.AsSpan(0, (int)Math.Min(Math.Min(pieceBytes, piece.Length), end - position)), position);
                if (read <= 0)
                {
                    throw read == 0 ? FileEnded(end - position) : new IOException($"reading the file to send failed (errno {Marshal.GetLastPInvokeError()})");
                }

                if (OnOwnThread)
                {
                    SendAllHere(piece.AsSpan(0, read));
                }
                else
                {
                    await _socket.SendAsync(piece.AsMemory(0, read), SocketFlags.None).ConfigureAwait(false);
                }

                position += read;
            }
        }
        finally
        {
            if (piece is not null)
            {
                ArrayPool<byte>.Shared.Return(piece);
            }
        }
    }

    private static IOException FileEnded(long bytesMissing) => new($"the file ended {bytesMissing} bytes before the range being sent did");

    /// <summary>
    /// A response spread over several blocks leaves in one gathering send per <see cref="SendSegmentsMax"/> blocks
    /// rather than one send per block: a fetch response of megabytes crosses the kernel's TCP path a few times, not
    /// once per block. On the connection's own thread it completes before it returns.
    /// </summary>
    private async Task SendGatheredAsync(ReadOnlySequence<byte> buffer)
    {
        foreach (var segment in buffer)
        {
            _sendSegments.Add(ArrayOf(segment));
            if (_sendSegments.Count == SendSegmentsMax)
            {
                await SendSegmentsAsync().ConfigureAwait(false);
            }
        }

        if (_sendSegments.Count > 0)
        {
            await SendSegmentsAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// One gathering send of the collected blocks. On the connection's own thread what it could not take (a full
    /// buffer) follows block by block, waiting for room; elsewhere the send waits for room asynchronously.
    /// </summary>
    private async Task SendSegmentsAsync()
    {
        try
        {
            if (!OnOwnThread)
            {
                await _socket.SendAsync(_sendSegments, SocketFlags.None).ConfigureAwait(false);
                return;
            }

            var sent = (long)_socket.Send(_sendSegments, SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock)
            {
                sent = 0;
            }
            else if (error != SocketError.Success)
            {
                throw new SocketException((int)error);
            }

            foreach (var segment in _sendSegments)
            {
                if (sent >= segment.Count)
                {
                    sent -= segment.Count;
                    continue;
                }

                SendAllHere(segment.AsSpan((int)sent));
                sent = 0;
            }
        }
        finally
        {
            _sendSegments.Clear();
        }
    }

    private static ArraySegment<byte> ArrayOf(ReadOnlyMemory<byte> segment) =>
        MemoryMarshal.TryGetArray(segment, out var array) ? array : throw new InvalidOperationException("pipe memory is not array-backed");

    private void ShutdownSocket()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
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
        // Handlers' callbacks run on the thread pool, never inside the receive loop.
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

    [LoggerMessage(EventId = 314, Level = LogLevel.Warning, Message = "Connection {ConnectionId}: a callback of its closing failed")]
    private partial void LogClosedCallbackFailed(string connectionId, Exception exception);

    [LoggerMessage(EventId = 312, Level = LogLevel.Debug, Message = "Connection {ConnectionId} aborted: {Reason}")]
    private partial void LogAborted(string connectionId, string reason);

    [LoggerMessage(EventId = 310, Level = LogLevel.Warning, Message = "Connection {ConnectionId}: receive failed")]
    private partial void LogReceiveFailed(string connectionId, Exception exception);

    [LoggerMessage(EventId = 313, Level = LogLevel.Warning, Message = "Connection {ConnectionId}: sendfile refused the file (errno {Errno}); its fetched records are copied from now on")]
    private partial void LogSendFileRefused(string connectionId, int errno);

    [LoggerMessage(EventId = 311, Level = LogLevel.Warning, Message = "Connection {ConnectionId}: send failed")]
    private partial void LogSendFailed(string connectionId, Exception exception);
}
