using System.Collections.Concurrent;
using System.IO.Pipelines;
using Microsoft.Win32.SafeHandles;
using Tributary.Protocol;

namespace Tributary.Server.Networking;

/// <summary>
/// A <see cref="SocketConnection"/>'s output as the handler writes it: the output pipe, plus file ranges placed
/// between its bytes (<see cref="IFileRangeWriter"/>), which the send loop hands the kernel with sendfile(2) instead
/// of reading them into the pipe. Each range is placed at a count of pipe bytes: the send loop sends the pipe's bytes
/// up to it, then the range, then goes on. Queued file bytes count against the same limit as the pipe's
/// (<see cref="SocketTransportLimits.OutputBufferBytesMax"/>): past it a flush waits until the socket has taken half.
/// </summary>
internal sealed class SocketOutput(PipeWriter pipe, long fileBytesQueuedMax, Action wakeSender) : PipeWriter, IFileRangeWriter
{
    // Made at the first range: a connection that never sends a file range (or is parked idle) holds no queue.
    private ConcurrentQueue<FileRange>? _ranges;
    private long _pipeBytesWritten;
    private long _fileBytesQueued;
    private bool _rangeSinceFlush;
    private volatile bool _closed;
    private TaskCompletionSource? _drained;

    public override void Advance(int bytes)
    {
        pipe.Advance(bytes);
        _pipeBytesWritten += bytes;
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => pipe.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => pipe.GetSpan(sizeHint);

    public override bool CanGetUnflushedBytes => pipe.CanGetUnflushedBytes;

    public override long UnflushedBytes => pipe.UnflushedBytes;

    public override void CancelPendingFlush() => pipe.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => pipe.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => pipe.CompleteAsync(exception);

    public bool TryWriteFileRange(SafeFileHandle file, long position, int length)
    {
        if (_closed || !OperatingSystem.IsLinux())
        {
            return false;
        }

        // The range keeps the file open until it is sent, even if retention closes the segment meanwhile.
        var added = false;
        try
        {
            file.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return false; // closed already: the copy path reports it
        }

        LazyInitializer.EnsureInitialized(ref _ranges).Enqueue(new FileRange(_pipeBytesWritten, file, position, length));
        Interlocked.Add(ref _fileBytesQueued, length);
        _rangeSinceFlush = true;
        if (_closed)
        {
            ReleaseQueued(); // the send loop stopped meanwhile: nobody else will release it
        }

        return true;
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        var flush = pipe.FlushAsync(cancellationToken);
        if (_rangeSinceFlush)
        {
            // A range after the last flushed byte wakes the send loop even when no new pipe bytes came with it.
            _rangeSinceFlush = false;
            wakeSender();
        }

        return Volatile.Read(ref _fileBytesQueued) <= fileBytesQueuedMax ? flush : WaitForFileBytesAsync(flush, cancellationToken);
    }

    private async ValueTask<FlushResult> WaitForFileBytesAsync(ValueTask<FlushResult> flush, CancellationToken cancellationToken)
    {
        var result = await flush.ConfigureAwait(false);
        while (!result.IsCompleted && !result.IsCanceled)
        {
            var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _drained, drained);
            if (_closed || Volatile.Read(ref _fileBytesQueued) <= fileBytesQueuedMax / 2)
            {
                break;
            }

            await drained.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        return _closed ? new FlushResult(isCanceled: false, isCompleted: true) : result;
    }

    /// <summary>The next range, if the send loop has reached it: placed within <paramref name="pipeBytesAhead"/> pipe bytes of <paramref name="pipeBytesSent"/>.</summary>
    public bool TryPeekRange(long pipeBytesSent, long pipeBytesAhead, out FileRange range) =>
        Volatile.Read(ref _ranges) is { } ranges ? ranges.TryPeek(out range) && range.PipePosition - pipeBytesSent <= pipeBytesAhead : NoRange(out range);

    private static bool NoRange(out FileRange range)
    {
        range = default;
        return false;
    }

    /// <summary>The send loop is done with the range at the head of the queue (sent, or never to be).</summary>
    public void RangeSent()
    {
        if (Volatile.Read(ref _ranges) is not { } ranges || !ranges.TryDequeue(out var range))
        {
            return;
        }

        range.File.DangerousRelease();
        if (Interlocked.Add(ref _fileBytesQueued, -range.Length) <= fileBytesQueuedMax / 2)
        {
            Interlocked.Exchange(ref _drained, null)?.TrySetResult();
        }
    }

    /// <summary>The send loop has stopped: nothing queued will be sent, and a waiting flush reports the output completed.</summary>
    public void Close()
    {
        _closed = true;
        ReleaseQueued();
        Interlocked.Exchange(ref _drained, null)?.TrySetResult();
    }

    private void ReleaseQueued()
    {
        while (Volatile.Read(ref _ranges) is { } ranges && ranges.TryDequeue(out var range))
        {
            range.File.DangerousRelease();
            Interlocked.Add(ref _fileBytesQueued, -range.Length);
        }
    }

    /// <param name="PipePosition">Pipe bytes written before the range: it is sent right after them.</param>
    internal readonly record struct FileRange(long PipePosition, SafeFileHandle File, long Position, int Length);
}
