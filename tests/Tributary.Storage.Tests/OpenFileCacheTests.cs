using Tributary.Storage.Devices;
using static Tributary.Storage.Tests.RecordBatchBuilder;

namespace Tributary.Storage.Tests;

/// <summary>
/// Log files hold descriptors through a bounded cache: the least recently used are closed past the bound and reopened
/// on use, with their contents, length and name intact; a handle in use survives its eviction. Descriptors are counted
/// in /proc/self/fd, so the bound is checked against the kernel, not the cache's own count.
/// </summary>
public sealed class OpenFileCacheTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tributary-open-file-cache-tests", Guid.NewGuid().ToString("N"));

    public OpenFileCacheTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Opening_one_file_past_the_bound_closes_the_least_recently_used()
    {
        var cache = new OpenFileCache(2);
        using var a = Open(cache, "a");
        using var b = Open(cache, "b");
        a.ReadAt(0, new byte[1]); // a is now more recent than b

        using var c = Open(cache, "c");

        Assert.Equal(2, cache.OpenFiles);
        Assert.Equal(1, cache.Evictions);
        Assert.Equal(2, DescriptorsIn(_directory));
        Assert.Equal(["a", "c"], OpenNames(a, b, c));
    }

    [Fact]
    public void An_evicted_file_reopens_on_use_and_appends_continue_where_it_ended()
    {
        var cache = new OpenFileCache(1);
        using var a = Open(cache, "a");
        a.Append("first "u8);
        using var b = Open(cache, "b"); // evicts a
        Assert.Equal(["b"], OpenNames(a, b));

        a.Append("second"u8);

        Assert.Equal(12, a.Length);
        var back = new byte[12];
        Assert.Equal(12, a.ReadAt(0, back));
        Assert.Equal("first second"u8.ToArray(), back);
        Assert.Equal("first second"u8.ToArray(), File.ReadAllBytes(Path.Combine(_directory, "a")));
        Assert.Equal(1, DescriptorsIn(_directory));
    }

    [Fact]
    public void A_handle_leased_across_its_eviction_stays_open_until_the_lease_ends()
    {
        var cache = new OpenFileCache(1);
        var path = Path.Combine(_directory, "a");
        using var a = cache.Add(path, File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete));
        RandomAccess.Write(a.OpenHandle!, "kept"u8, 0);
        var lease = a.Lease();

        using var b = Open(cache, "b"); // evicts a while the lease holds it
        Assert.Null(a.OpenHandle);
        Assert.Equal(1, cache.OpenFiles);
        Assert.Equal(2, DescriptorsIn(_directory)); // the leased descriptor is still open

        var back = new byte[4];
        Assert.Equal(4, RandomAccess.Read(lease.Handle, back, 0));
        Assert.Equal("kept"u8.ToArray(), back);

        lease.Dispose();
        Assert.True(lease.Handle.IsClosed);
        Assert.Equal(1, DescriptorsIn(_directory));
    }

    [Fact]
    public void Many_files_in_random_use_never_hold_more_descriptors_than_the_bound()
    {
        const int bound = 10;
        var cache = new OpenFileCache(bound);
        var files = Enumerable.Range(0, 100).Select(i => Open(cache, $"f{i}")).ToArray();
        var random = new Random(29);
        try
        {
            for (var step = 0; step < 2_000; step++)
            {
                var i = random.Next(files.Length);
                files[i].Append([(byte)i]);
                Assert.True(cache.OpenFiles <= bound, $"{cache.OpenFiles} open at step {step}");
            }

            Assert.True(DescriptorsIn(_directory) <= bound);
            for (var i = 0; i < files.Length; i++)
            {
                var bytes = new byte[files[i].Length];
                files[i].ReadAt(0, bytes);
                Assert.All(bytes, value => Assert.Equal((byte)i, value));
            }
        }
        finally
        {
            foreach (var file in files)
            {
                file.Dispose();
            }
        }

        Assert.Equal(0, cache.OpenFiles);
        Assert.Equal(0, DescriptorsIn(_directory));
    }

    [Fact]
    public void An_evicted_file_renamed_by_the_device_reopens_under_its_new_name()
    {
        var device = new FileLogDevice(openFilesMax: 1);
        var from = Path.Combine(_directory, "00000000000000000000.log.cleaned");
        var to = Path.Combine(_directory, "00000000000000000000.log");
        using var file = device.OpenFile(from);
        file.Append("moved"u8);
        using var other = device.OpenFile(Path.Combine(_directory, "other")); // evicts the first

        device.ReplaceFile(from, to);
        var back = new byte[5];

        Assert.Equal(5, file.ReadAt(0, back));
        Assert.Equal("moved"u8.ToArray(), back);
        Assert.False(File.Exists(from));
    }

    [Fact]
    public void An_evicted_file_deleted_meanwhile_is_not_recreated_empty()
    {
        var cache = new OpenFileCache(1);
        using var a = Open(cache, "a");
        a.Append("x"u8);
        using var b = Open(cache, "b");
        File.Delete(Path.Combine(_directory, "a"));

        Assert.Throws<FileNotFoundException>(() => a.ReadAt(0, new byte[1]));
        Assert.False(File.Exists(Path.Combine(_directory, "a")));
        Assert.Null(a.Handle);
    }

    [Fact]
    public void Partitions_under_a_bound_of_eight_descriptors_append_read_and_reopen_all_their_records()
    {
        var data = Path.Combine(_directory, "data");
        var device = new FileLogDevice(openFilesMax: 8);
        var config = LogConfig.Default with { SegmentBytes = 1024 };
        using (var manager = new LogManager(device, data, config))
        {
            for (var round = 0; round < 5; round++)
            {
                for (var p = 0; p < 30; p++)
                {
                    manager.GetOrCreate("t", p, config).Append(Build($"p{p}r{round}", 10));
                    Assert.True(device.OpenFiles <= 8);
                }
            }

            Assert.True(DescriptorsIn(data) <= 8, $"{DescriptorsIn(data)} descriptors open in the data directory");
            AssertEveryRecord(manager);
        }

        Assert.Equal(0, DescriptorsIn(data));
        using var reopened = new LogManager(device, data, config);
        Assert.True(reopened.LoadedAfterCleanShutdown);
        Assert.True(DescriptorsIn(data) <= 8);
        AssertEveryRecord(reopened);
    }

    private static void AssertEveryRecord(LogManager manager)
    {
        for (var p = 0; p < 30; p++)
        {
            Assert.True(manager.TryGet("t", p, out var log));
            Assert.Equal(50, log.LogEndOffset);
            var values = new List<string>();
            for (var offset = 0L; offset < 50;)
            {
                var records = ReadRecords(log.Read(offset, new LogReadOptions(1 << 20)).Records);
                values.AddRange(records.Select(r => r.Value));
                offset = records[^1].Offset + 1;
            }

            Assert.Equal(Enumerable.Range(0, 5).SelectMany(r => Enumerable.Range(0, 10).Select(i => $"p{p}r{r}-{i}")), values);
        }
    }

    private FileLogFile Open(OpenFileCache cache, string name) => new(Path.Combine(_directory, name), cache: cache);

    private string[] OpenNames(params FileLogFile[] files) =>
        Enumerable.Range(0, files.Length).Where(i => IsOpen(files[i])).Select(i => ((char)('a' + i)).ToString()).ToArray();

    private static bool IsOpen(FileLogFile file) => file.OpenHandle is not null;

    /// <summary>Descriptors of this process whose file lies under <paramref name="directory"/>.</summary>
    private static int DescriptorsIn(string directory) =>
        new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos()
            .Count(fd => fd.LinkTarget is { } target && target.StartsWith(directory + "/", StringComparison.Ordinal));
}
