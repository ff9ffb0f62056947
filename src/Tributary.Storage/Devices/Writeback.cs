using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tributary.Storage.Devices;

/// <summary>
/// Starts the kernel writing appended bytes to disk soon after they are written (Linux <c>sync_file_range</c> with
/// <c>SYNC_FILE_RANGE_WRITE</c>: start write-out, do not wait for it), one <see cref="IntervalBytes"/> range at a time.
/// Without it dirty pages pile up until the kernel's background threshold (10% of memory by default, 2.3 GB here),
/// and then every writer on the machine is throttled to the disk's pace at once: produce latency jumps from
/// milliseconds to hundreds. This does not make anything durable (that is still <c>flush.messages</c>/<c>flush.ms</c>
/// and fsync); it only keeps the page cache's dirty backlog short. Elsewhere than Linux it does nothing.
/// </summary>
internal static partial class Writeback
{
    /// <summary>Bytes appended to a file between two write-out requests.</summary>
    public const long IntervalBytes = 1024 * 1024;

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
