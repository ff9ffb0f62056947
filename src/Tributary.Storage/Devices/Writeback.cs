using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tributary.Storage.Devices;

/// <summary>
/// Starts the kernel writing appended bytes to disk (Linux <c>sync_file_range</c> with <c>SYNC_FILE_RANGE_WRITE</c>,
/// no wait) once they are <see cref="LagMs"/> old, a <see cref="IntervalBytes"/> range at a time, so dirty pages level
/// off at about <see cref="LagMs"/> of appends instead of piling up to the kernel's background threshold, where every
/// writer stalls behind the flusher. It makes nothing durable (that is <c>flush.messages</c>/<c>flush.ms</c>).
/// Elsewhere than Linux it does nothing.
/// </summary>
internal static partial class Writeback
{
    /// <summary>Bytes appended to a file between two write-out requests.</summary>
    public const long IntervalBytes = 1024 * 1024;

    /// <summary>Age, in milliseconds, at which appended bytes are handed to the kernel for write-out.</summary>
    public const long LagMs = 2000;

    /// <summary>Ranges of one file waiting for their age; beyond this many the oldest is written out at once.</summary>
    public const int PendingRangesMax = 4096;

    private const uint SyncFileRangeWaitBefore = 1;
    private const uint SyncFileRangeWrite = 2;
    private const uint SyncFileRangeWaitAfter = 4;
    private const int PosixFadviseDontNeed = 4;

    /// <summary>
    /// Ranges waiting for <see cref="WritebackWorker"/>; when it is this far behind, the appender asks the kernel
    /// itself.
    /// </summary>
    public const int QueuedRangesMax = 1024;

    /// <summary>
    /// Asks the kernel to start writing out bytes [<paramref name="offset"/>, +<paramref name="length"/>); false if it
    /// cannot (then stop asking). A file closed meanwhile counts as done.
    /// </summary>
    public static bool Start(SafeFileHandle handle, long offset, long length)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            return SyncFileRange(handle, offset, length, SyncFileRangeWrite) == 0;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
    }

    /// <summary>
    /// Writes bytes [<paramref name="offset"/>, +<paramref name="length"/>) out and waits for that to finish
    /// (<c>sync_file_range</c> with wait-before, write and wait-after: no metadata, so not a durability point), then
    /// tells the kernel their pages are not needed (<c>POSIX_FADV_DONTNEED</c>), which frees the clean ones. False if
    /// it cannot (then stop asking). A file closed meanwhile counts as done.
    /// </summary>
    public static bool Drop(SafeFileHandle handle, long offset, long length)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            return SyncFileRange(handle, offset, length, SyncFileRangeWaitBefore | SyncFileRangeWrite | SyncFileRangeWaitAfter) == 0
                && PosixFadvise(handle, offset, length, PosixFadviseDontNeed) == 0;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
    }

    // The marshaller holds a reference on the handle for the call, so the descriptor cannot be closed and reused
    // meanwhile; a handle already closed throws ObjectDisposedException.
    [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    private static partial int SyncFileRange(SafeFileHandle fd, long offset, long nbytes, uint flags);

    // Returns the error number itself (0 on success); errno is not set.
    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int PosixFadvise(SafeFileHandle fd, long offset, long len, int advice);
}

/// <summary>
/// One file's write-out bookkeeping: marks every <see cref="Writeback.IntervalBytes"/> appended with the time, and
/// hands each range to <paramref name="worker"/> once it is <paramref name="lagMs"/> old (or, without a worker, to
/// <see cref="Writeback.Start"/> at once). With <paramref name="dropBehindBytes"/> of 0 or more, the worker also
/// drops from the page cache, after their write-out, the bytes that far (at least one interval) behind the newest
/// range it started; with <paramref name="dropAfterRead"/>, the bytes every reader of the file has fetched past
/// (<see cref="DropBehind"/>). <see cref="OnAppended"/> and <see cref="OnTruncated"/> are called by the file's single
/// appender only; <see cref="OnRead"/> by any reader.
/// </summary>
internal sealed class WritebackSchedule(
    Func<SafeFileHandle?> handle,
    long length,
    long lagMs,
    Func<long> nowMs,
    WritebackWorker? worker = null,
    long dropBehindBytes = -1,
    bool dropAfterRead = false)
{
    private readonly Queue<(long End, long AtMs)> _pending = new();
    private long _marked = length;
    private long _writtenOut = length;
    private volatile bool _unavailable;

    // End of the bytes dropped from the page cache; the worker's, but truncation pulls it back (hence the lock).
    private readonly Lock _droppedLock = new();
    private long _dropped = PageFloor(length);
    private volatile bool _dropUnavailable = dropBehindBytes < 0 && !dropAfterRead;
    private readonly SegmentReaders? _readers = dropAfterRead ? new SegmentReaders(nowMs) : null;

    /// <summary>
    /// Starts write-out of the range (<see cref="Writeback.Start"/>) through the file's handle if it is open; a file the
    /// descriptor cache closed meanwhile is skipped (its bytes are the kernel's to write), which is not a refusal.
    /// </summary>
    public bool Start(long offset, long length)
    {
        if (handle() is not { } open)
        {
            return true;
        }

        try
        {
            return Writeback.Start(open, offset, length);
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
    }

    /// <summary>End of the bytes handed to the kernel for write-out so far.</summary>
    public long WrittenOut => _writtenOut;

    /// <summary>Whether the kernel refused a request (then no more are made for this file).</summary>
    public bool Unavailable => _unavailable;

    /// <summary>End of the bytes dropped from the page cache so far.</summary>
    public long Dropped
    {
        get
        {
            lock (_droppedLock)
            {
                return _dropped;
            }
        }
    }

    public void OnAppended(long end)
    {
        if (_unavailable)
        {
            return;
        }

        var now = nowMs();
        if (end - _marked >= Writeback.IntervalBytes)
        {
            _pending.Enqueue((end, now));
            _marked = end;
        }

        var target = _writtenOut;
        while (_pending.TryPeek(out var range) && (now - range.AtMs >= lagMs || _pending.Count > Writeback.PendingRangesMax))
        {
            target = range.End;
            _pending.Dequeue();
        }

        if (target > _writtenOut)
        {
            if (worker is null || !worker.TryQueue(this, _writtenOut, target - _writtenOut))
            {
                OnStarted(Start(_writtenOut, target - _writtenOut));
            }

            _writtenOut = target;
        }
    }

    /// <summary>What the kernel said to a request; a refusal stops further requests for this file.</summary>
    public void OnStarted(bool started)
    {
        if (!started)
        {
            _unavailable = true;
        }
    }

    public void OnTruncated(long length)
    {
        _pending.Clear();
        _marked = Math.Min(_marked, length);
        _writtenOut = Math.Min(_writtenOut, length);
        _readers?.OnTruncated();
        lock (_droppedLock)
        {
            _dropped = Math.Min(_dropped, PageFloor(length));
        }
    }

    /// <summary><paramref name="reader"/> (a connection) fetched this file's bytes from <paramref name="position"/> on.</summary>
    public void OnRead(string reader, long position) => _readers?.OnRead(reader, position);

    /// <summary>
    /// Called by the worker after it started write-out up to <paramref name="startedEnd"/>: waits for the write-out of
    /// the bytes not yet dropped that it may drop, then drops their pages from the page cache. It may drop the bytes at
    /// least one interval behind <paramref name="startedEnd"/> that are either <c>dropBehindBytes</c> behind it (when
    /// that is 0 or more) or, with <c>dropAfterRead</c>, before the position every reader seen lately has fetched
    /// from (<see cref="SegmentReaders.Passed"/>; a file nobody reads keeps its pages). Without a drop a sustained
    /// write takes a new page of memory for every 4 KiB it appends until the cache is full; on a VM whose host takes
    /// freed memory back, each such page costs a fault in the host. A reader further behind than the drop reads from
    /// disk. A refusal turns the drop off for the file.
    /// </summary>
    public void DropBehind(long startedEnd)
    {
        if (_dropUnavailable)
        {
            return;
        }

        var to = dropBehindBytes >= 0 ? startedEnd - Math.Max(dropBehindBytes, Writeback.IntervalBytes) : -1;
        if (_readers is not null)
        {
            to = Math.Max(to, Math.Min(startedEnd - Writeback.IntervalBytes, _readers.Passed()));
        }

        // Whole pages only: the kernel keeps a partly covered page, which the next drop, starting here, would skip.
        to = PageFloor(to);
        long from;
        lock (_droppedLock)
        {
            from = _dropped;
            if (to <= from)
            {
                return;
            }

            _dropped = to;
        }

        // A file the descriptor cache closed keeps these pages: skipped, not refused.
        try
        {
            if (handle() is { } open && !Writeback.Drop(open, from, to - from))
            {
                _dropUnavailable = true;
            }
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private static long PageFloor(long position) => position & ~((long)Environment.SystemPageSize - 1);
}

/// <summary>
/// One thread that makes every file's write-out requests, so an append never waits in <c>sync_file_range</c>: starting
/// write-out can block while the block layer's queue is full (measured at 570 MB/s of 1 KB records: 0.2 ms per 1 MiB
/// request on average, up to 6 ms), which used to land on the produce request that crossed the range's end.
/// Holds at most <see cref="Writeback.QueuedRangesMax"/> requests; past that the appender makes its own.
/// </summary>
internal sealed class WritebackWorker
{
    // Not a BlockingCollection: its SemaphoreSlim spins with sched_yield before it sleeps, which cost 2% of the
    // broker's CPU samples for a thread that has about 600 requests a second to make. An AutoResetEvent just sleeps.
    private readonly ConcurrentQueue<(WritebackSchedule Schedule, long Offset, long Length)> _queue = new();
    private readonly AutoResetEvent _queuedSignal = new(false);
    private int _waiting;
    private long _queued;
    private long _made;

    private WritebackWorker()
    {
        new Thread(Run) { IsBackground = true, Name = "tributary-writeback" }.Start();
    }

    /// <summary>The process's worker (Linux only: elsewhere there is no write-out to start).</summary>
    public static WritebackWorker? Shared { get; } = OperatingSystem.IsLinux() ? new WritebackWorker() : null;

    public bool TryQueue(WritebackSchedule schedule, long offset, long length)
    {
        if (Interlocked.Increment(ref _waiting) > Writeback.QueuedRangesMax)
        {
            Interlocked.Decrement(ref _waiting);
            return false;
        }

        Interlocked.Increment(ref _queued);
        _queue.Enqueue((schedule, offset, length));
        _queuedSignal.Set();
        return true;
    }

    /// <summary>Whether every request queued so far has been made (for tests).</summary>
    public bool Idle => Volatile.Read(ref _made) >= Volatile.Read(ref _queued);

    private void Run()
    {
        while (true)
        {
            while (_queue.TryDequeue(out var request))
            {
                Interlocked.Decrement(ref _waiting);
                request.Schedule.OnStarted(request.Schedule.Start(request.Offset, request.Length));
                request.Schedule.DropBehind(request.Offset + request.Length);
                Interlocked.Increment(ref _made);
            }

            _queuedSignal.WaitOne();
        }
    }
}
