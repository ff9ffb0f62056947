using System.Runtime.InteropServices;
using Tributary.Storage.Devices;
using static Tributary.Storage.Tests.RecordBatchBuilder;

namespace Tributary.Storage.Tests;

/// <summary>
/// Segment files reserve disk blocks ahead of their appends without changing their size, and give them back when
/// they stop being appended to. Checked with statx(2), which reports a file's size and its allocated blocks.
/// </summary>
public sealed partial class PreallocationTests : IDisposable
{
    private const long MiB = 1024 * 1024;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tributary-preallocation-tests", Guid.NewGuid().ToString("N"));

    public PreallocationTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Appends_reserve_blocks_ahead_while_the_size_stays_the_data_and_trim_gives_them_back()
    {
        var path = Path.Combine(_directory, "00000000000000000000.log");
        var chunk = new byte[256 * 1024];
        new Random(5).NextBytes(chunk);
        using var file = new FileLogFile(path);
        for (var i = 0; i < 12; i++)
        {
            file.Append(chunk);
        }

        // 3 MiB written. Nothing was reserved below 1 MiB; from there the reservation ahead is as large as the file
        // was (2 MiB at the append that crossed 2 MiB, so blocks up to 4 MiB).
        var (size, allocated) = Stat(path);
        Assert.Equal(3 * MiB, size);
        Assert.Equal(3 * MiB, file.Length);
        Assert.True(allocated >= 4 * MiB, $"{allocated} bytes allocated for 3 MiB of data");

        // Nothing past the data can be read, reserved or not.
        Assert.Equal(0, file.ReadAt(3 * MiB, new byte[4096]));

        file.Trim();
        (size, allocated) = Stat(path);
        Assert.Equal(3 * MiB, size);
        Assert.Equal(3 * MiB, allocated);

        // The data itself is untouched.
        var back = new byte[chunk.Length];
        Assert.Equal(back.Length, file.ReadAt(11 * chunk.Length, back));
        Assert.Equal(chunk, back);
    }

    [Fact]
    public void Closing_trims_once_and_closing_again_or_trimming_a_closed_file_is_harmless()
    {
        var path = Path.Combine(_directory, "00000000000000000000.log");
        var file = new FileLogFile(path);
        for (var i = 0; i < 3; i++)
        {
            file.Append(new byte[MiB]);
        }

        file.Dispose();
        Assert.Equal((3 * MiB, 3 * MiB), Stat(path));
        file.Trim();
        file.Dispose();
    }

    [Fact]
    public void A_file_under_a_mebibyte_reserves_nothing()
    {
        var path = Path.Combine(_directory, "00000000000000000000.index");
        using var file = new FileLogFile(path);
        for (var i = 0; i < 1000; i++)
        {
            file.Append(new byte[1000]);
        }

        var (size, allocated) = Stat(path);
        Assert.Equal(1_000_000, size);
        Assert.True(allocated <= RoundUpToPage(size), $"{allocated} bytes allocated for {size}");
    }

    [Fact]
    public void A_file_opened_again_without_a_trim_has_exactly_its_data()
    {
        // As after a crash: the reservation is still there when the file is opened again.
        var path = Path.Combine(_directory, "00000000000000000000.log");
        using var first = new FileLogFile(path);
        for (var i = 0; i < 3; i++)
        {
            first.Append(new byte[MiB]);
        }

        Assert.True(Stat(path).Allocated > 3 * MiB);

        using var second = new FileLogFile(path);
        Assert.Equal(3 * MiB, second.Length);
        Assert.Equal(0, second.ReadAt(3 * MiB, new byte[16]));
    }

    [Fact]
    public void Rolled_and_closed_segments_hold_no_blocks_past_their_data()
    {
        using var target = new StorageTarget(DeviceKind.File);
        // 300 KiB batches, 13 to a segment: 32 appends leave two rolled segments and an active one of 6 batches
        // (1.76 MiB), which reserved 1.17 MiB ahead when it passed 1 MiB.
        var config = LogConfig.Default with { SegmentBytes = 4 * 1024 * 1024 };
        var value = new byte[300 * 1024];
        using (var manager = target.Open())
        {
            var log = manager.GetOrCreate("orders", 0, config);
            for (var i = 0; i < 32; i++)
            {
                log.Append(Build([value]));
            }

            Assert.Equal(3, log.SegmentCount);
            var segments = SegmentFiles(target.DataDirectory);
            foreach (var rolled in segments[..^1])
            {
                var (size, allocated) = Stat(rolled);
                Assert.True(allocated <= RoundUpToPage(size), $"{Path.GetFileName(rolled)}: {allocated} bytes allocated for {size}");
            }

            Assert.True(Stat(segments[^1]).Allocated > RoundUpToPage(Stat(segments[^1]).Size), "the active segment reserves ahead");
        }

        foreach (var closed in SegmentFiles(target.DataDirectory))
        {
            var (size, allocated) = Stat(closed);
            Assert.True(allocated <= RoundUpToPage(size), $"{Path.GetFileName(closed)}: {allocated} bytes allocated for {size}");
        }
    }

    private static string[] SegmentFiles(string dataDirectory) =>
        Directory.GetFiles(dataDirectory, "*.log", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();

    private static long RoundUpToPage(long bytes) => (bytes + 4095) / 4096 * 4096;

    /// <summary>Size and allocated bytes (512-byte blocks × 512) from statx(2), whose layout is the same on every architecture.</summary>
    private static (long Size, long Allocated) Stat(string path)
    {
        const int AtFdCwd = -100;
        const uint StatxSize = 0x200, StatxBlocks = 0x400;
        var buffer = new byte[256];
        Assert.True(StatX(AtFdCwd, path, 0, StatxSize | StatxBlocks, buffer) == 0, $"statx failed: errno {Marshal.GetLastPInvokeError()}");
        return (BitConverter.ToInt64(buffer, 40), BitConverter.ToInt64(buffer, 48) * 512);
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatX(int directoryFd, string path, int flags, uint mask, byte[] buffer);
}
