using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Tributary.Storage.Devices;

namespace Tributary.Storage.Tests;

/// <summary>
/// Appended segment bytes are handed to the kernel for write-out as they accumulate, so the page cache never holds a
/// long dirty backlog for the disk to catch up on all at once. Checked with Linux's cachestat(2), which counts a
/// file's cached and dirty pages, against a file written the ordinary way.
/// </summary>
public sealed partial class WritebackTests : IDisposable
{
    private const int PageBytes = 4096;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tributary-writeback-tests", Guid.NewGuid().ToString("N"));

    public WritebackTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Eight_MiB_appended_to_a_segment_file_leave_almost_no_dirty_pages_while_a_plain_write_leaves_them_all()
    {
        var chunk = new byte[256 * 1024];
        new Random(3).NextBytes(chunk);
        var segmentPath = Path.Combine(_directory, "00000000000000000000.log");
        using (var segment = new FileLogFile(segmentPath))
        {
            for (var i = 0; i < 32; i++)
            {
                segment.Append(chunk);
            }

            var (cached, dirty) = CacheStat(segmentPath);
            Assert.True(cached >= 1024, $"the appended pages are in the page cache ({cached} pages)");
            Assert.True(dirty < Writeback.IntervalBytes / PageBytes, $"{dirty} of {cached} pages still dirty");
        }

        // The control: the same bytes written without write-out requests stay dirty (the kernel's flusher waits 30 s).
        // (CreateNew, and measured while open: ext4 starts write-out itself when a truncated file is closed.)
        var plainPath = Path.Combine(_directory, "plain.bin");
        using var plain = File.OpenHandle(plainPath, FileMode.CreateNew, FileAccess.ReadWrite);
        for (var i = 0; i < 32; i++)
        {
            RandomAccess.Write(plain, chunk, (long)i * chunk.Length);
        }

        var (_, plainDirty) = CacheStat(plainPath);
        Assert.True(plainDirty > 1024, $"a plain write leaves its pages dirty ({plainDirty} pages)");
    }

    private static (long Cached, long Dirty) CacheStat(string path)
    {
        using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var range = default(CacheStatRange); // offset 0, length 0: the whole file
        var result = SysCall(CacheStatSyscallX64, (int)handle.DangerousGetHandle(), ref range, out var stat, 0);
        Assert.True(result == 0, $"cachestat failed: errno {Marshal.GetLastPInvokeError()}");
        return ((long)stat.Cache, (long)stat.Dirty);
    }

    /// <summary>cachestat's number on x86-64 (Linux 6.5 and later).</summary>
    private const long CacheStatSyscallX64 = 451;

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
