using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tributary.Storage.Devices;

/// <summary>
/// Starts the kernel writing appended bytes to disk (Linux <c>sync_file_range</c> with <c>SYNC_FILE_RANGE_WRITE</c>:
/// start write-out, do not wait for it) once they are <see cref="LagMs"/> old, a <see cref="IntervalBytes"/> range at
/// a time. Without it, sustained writes pile up dirty pages until the kernel's background threshold (10% of memory
/// by default, 2.3 GB here); then the flusher writes them all at once and every writer stalls behind it: produce
/// latency jumps from milliseconds to hundreds. With it, dirty pages level off at about what is appended in
/// <see cref="LagMs"/>. A burst shorter than that stays in the page cache, as it would without this, and pays no
/// write-out while it lasts. Nothing here makes anything durable (that is still <c>flush.messages</c>/<c>flush.ms</c>
/// and fsync). Elsewhere than Linux it does nothing.
/// </summary>
internal static partial class Writeback
{
    /// <summary>Bytes appended to a file between two write-out requests.</summary>
    public const long IntervalBytes = 1024 * 1024;

    /// <summary>Age, in milliseconds, at which appended bytes are handed to the kernel for write-out.</summary>
    public const long LagMs = 2000;

    /// <summary>Ranges of one file waiting for their age; beyond this many the oldest is written out at once.</summary>
    public const int PendingRangesMax = 4096;

    private const uint SyncFileRangeWrite = 2;

    /// <summary>Asks the kernel to start writing out bytes [<paramref name="offset"/>, +<paramref name="length"/>); false if it cannot (then stop asking).</summary>
    public static bool Start(SafeFileHandle handle, long offset, long length)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return SyncFileRange((int)handle.DangerousGetHandle(), offset, length, SyncFileRangeWrite) == 0;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    private static partial int SyncFileRange(int fd, long offset, long nbytes, uint flags);
}

/// <summary>
/// One file's write-out bookkeeping: marks every <see cref="Writeback.IntervalBytes"/> appended with the time, and
/// hands each range to <see cref="Writeback.Start"/> once it is <paramref name="lagMs"/> old. Called by the file's
/// single appender only.
/// </summary>
internal sealed class WritebackSchedule(SafeFileHandle handle, long length, long lagMs, Func<long> nowMs)
{
    private readonly Queue<(long End, long AtMs)> _pending = new();
    private long _marked = length;
    private long _writtenOut = length;
    private bool _unavailable;

    /// <summary>End of the bytes handed to the kernel for write-out so far.</summary>
    public long WrittenOut => _writtenOut;

    /// <summary>Whether the kernel refused a request (then no more are made for this file).</summary>
    public bool Unavailable => _unavailable;

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
            _unavailable = !Writeback.Start(handle, _writtenOut, target - _writtenOut);
            _writtenOut = target;
        }
    }

    public void OnTruncated(long length)
    {
        _pending.Clear();
        _marked = Math.Min(_marked, length);
        _writtenOut = Math.Min(_writtenOut, length);
    }
}
