using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tributary.TestSupport;

/// <summary>Counts a file's pages in the page cache with Linux's cachestat(2) (6.5 and later), for the write-out and drop tests.</summary>
internal static partial class PageCache
{
    public const int PageBytes = 4096;

    /// <summary>cachestat's number on x86-64.</summary>
    private const long CacheStatSyscallX64 = 451;

    /// <summary>Cached and dirty pages of [<paramref name="offset"/>, +<paramref name="length"/>); length 0 means to the end.</summary>
    public static (long Cached, long Dirty) Stat(string path, long offset = 0, long length = 0)
    {
        using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var range = new CacheStatRange { Offset = (ulong)offset, Length = (ulong)length };
        var result = SysCall(CacheStatSyscallX64, (int)handle.DangerousGetHandle(), ref range, out var stat, 0);
        Assert.True(result == 0, $"cachestat failed: errno {Marshal.GetLastPInvokeError()}");
        return ((long)stat.Cache, (long)stat.Dirty);
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long SysCall(long number, int fd, ref CacheStatRange range, out CacheStatResult stat, uint flags);

    [StructLayout(LayoutKind.Sequential)]
    private struct CacheStatRange
    {
        public ulong Offset;
        public ulong Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct CacheStatResult
    {
        public ulong Cache;
        public ulong Dirty;
        public ulong Writeback;
        public ulong Evicted;
        public ulong RecentlyEvicted;
    }
}
