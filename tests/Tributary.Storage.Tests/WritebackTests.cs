using Tributary.Storage.Devices;
using Tributary.TestSupport;

namespace Tributary.Storage.Tests;

/// <summary>
/// Appended segment bytes are handed to the kernel for write-out once they are old enough, so the page cache never
/// holds a long dirty backlog for the disk to catch up on all at once, while a short burst stays in memory. Checked
/// with Linux's cachestat(2), which counts a file's cached and dirty pages, against a file written the ordinary way.
/// </summary>
public sealed class WritebackTests : IDisposable
{
    private const int PageBytes = PageCache.PageBytes;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tributary-writeback-tests", Guid.NewGuid().ToString("N"));

    public WritebackTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Eight_MiB_appended_to_a_segment_file_leave_almost_no_dirty_pages_while_a_plain_write_leaves_them_all()
    {
        var chunk = new byte[256 * 1024];
        new Random(3).NextBytes(chunk);
        var segmentPath = Path.Combine(_directory, "00000000000000000000.log");
        using (var segment = new FileLogFile(segmentPath, writebackLagMs: 0))
        {
            for (var i = 0; i < 32; i++)
            {
                segment.Append(chunk);
            }

            // The requests are made by the write-out thread, not by the appender.
            Assert.True(SpinWait.SpinUntil(() => WritebackWorker.Shared!.Idle, TimeSpan.FromSeconds(30)), "write-out requests made");
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

    [Fact]
    public void A_burst_younger_than_the_lag_stays_in_the_page_cache()
    {
        var path = Path.Combine(_directory, "00000000000000000000.log");
        using var segment = new FileLogFile(path, writebackLagMs: 60_000);
        var chunk = new byte[256 * 1024];
        for (var i = 0; i < 32; i++)
        {
            segment.Append(chunk);
        }

        var (_, dirty) = CacheStat(path);
        Assert.True(dirty > 1024, $"nothing was handed for write-out yet ({dirty} pages dirty)");
    }

    [Fact]
    public void Ranges_are_handed_out_in_order_once_they_are_old_enough_and_never_more_than_the_pending_limit_wait()
    {
        var path = Path.Combine(_directory, "schedule.log");
        using var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        RandomAccess.Write(handle, new byte[8 * 1024 * 1024], 0);
        long now = 0;
        var schedule = new WritebackSchedule(() => handle, 0, lagMs: 1000, () => now);
        const long MiB = 1024 * 1024;

        schedule.OnAppended(MiB / 2);   // less than one interval: no range yet
        schedule.OnAppended(MiB);       // range [0, 1 MiB) marked at 0 ms
        now = 500;
        schedule.OnAppended(2 * MiB);   // range [1, 2 MiB) marked at 500 ms
        Assert.Equal(0, schedule.WrittenOut);
        now = 1000;
        schedule.OnAppended(2 * MiB + 10);
        Assert.Equal(MiB, schedule.WrittenOut);
        now = 1600;
        schedule.OnAppended(3 * MiB);
        Assert.Equal(2 * MiB, schedule.WrittenOut);
        Assert.False(schedule.Unavailable);

        schedule.OnTruncated(MiB + 5);
        Assert.Equal(MiB + 5, schedule.WrittenOut);

        // A clock that stands still: past the pending limit the oldest ranges go out regardless of age.
        var stuck = new WritebackSchedule(() => handle, 0, lagMs: long.MaxValue, () => 0);
        for (var i = 1; i <= Writeback.PendingRangesMax + 3; i++)
        {
            stuck.OnAppended(i * MiB);
        }

        Assert.Equal(3 * MiB, stuck.WrittenOut); // the three ranges beyond the limit
    }

    [Fact]
    public void A_range_whose_file_closed_before_its_turn_is_dropped_quietly()
    {
        var path = Path.Combine(_directory, "closed.log");
        var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        RandomAccess.Write(handle, new byte[Writeback.IntervalBytes], 0);
        var schedule = new WritebackSchedule(() => handle, 0, lagMs: 0, () => 0);
        handle.Dispose();

        Assert.True(Writeback.Start(handle, 0, Writeback.IntervalBytes));
        schedule.OnAppended(Writeback.IntervalBytes); // made inline (no worker): must not throw either
        Assert.False(schedule.Unavailable);
    }

    [Fact]
    public void With_the_drop_on_written_out_bytes_leave_the_page_cache_and_still_read_back_from_disk()
    {
        const int MiB = 1024 * 1024;
        var chunk = new byte[256 * 1024];
        var path = Path.Combine(_directory, "00000000000000000000.log");
        using var segment = new FileLogFile(path, writebackLagMs: 0, cacheDropBehindBytes: 0);
        for (var i = 0; i < 32; i++)
        {
            new Random(i).NextBytes(chunk);
            segment.Append(chunk);
        }

        Assert.True(SpinWait.SpinUntil(() => WritebackWorker.Shared!.Idle, TimeSpan.FromSeconds(30)), "write-out requests made");

        // The last range started is [7, 8 MiB): everything one interval behind its end is dropped, that range stays.
        var (droppedCached, _) = CacheStat(path, 0, 7 * MiB);
        var (tailCached, _) = CacheStat(path, 7 * MiB, MiB);
        Assert.True(droppedCached < 64, $"{droppedCached} of {7 * MiB / PageBytes} written-out pages still cached");
        Assert.True(tailCached >= MiB / PageBytes / 2, $"the newest range stays cached ({tailCached} pages)");

        var read = new byte[chunk.Length];
        for (var i = 0; i < 32; i++)
        {
            new Random(i).NextBytes(chunk);
            Assert.Equal(read.Length, segment.ReadAt((long)i * chunk.Length, read));
            Assert.True(chunk.AsSpan().SequenceEqual(read), $"chunk {i} reads back as written");
        }
    }

    [Fact]
    public void Without_the_drop_written_out_bytes_stay_in_the_page_cache()
    {
        var chunk = new byte[256 * 1024];
        var path = Path.Combine(_directory, "00000000000000000000.log");
        using var segment = new FileLogFile(path, writebackLagMs: 0);
        for (var i = 0; i < 32; i++)
        {
            segment.Append(chunk);
        }

        Assert.True(SpinWait.SpinUntil(() => WritebackWorker.Shared!.Idle, TimeSpan.FromSeconds(30)), "write-out requests made");
        var (cached, _) = CacheStat(path);
        Assert.True(cached >= 2048 - 64, $"the written-out pages stay cached ({cached} of 2048)");
    }

    [Fact]
    public void The_device_drops_only_segment_data_files_behind_and_leaves_indexes_cached()
    {
        var device = new FileLogDevice(cacheDropBehindBytes: 0);
        var chunk = new byte[256 * 1024];
        var indexPath = Path.Combine(_directory, "00000000000000000000.index");
        var logPath = Path.Combine(_directory, "00000000000000000000.log");
        using var index = device.OpenFile(indexPath);
        using var log = device.OpenFile(logPath);
        for (var i = 0; i < 16; i++)
        {
            index.Append(chunk);
        }

        // The device's files use the default 2 s lag: append again after it, so the first ranges are handed out.
        Thread.Sleep((int)Writeback.LagMs + 100);
        for (var i = 0; i < 16; i++)
        {
            index.Append(chunk);
            log.Append(chunk);
        }

        Thread.Sleep((int)Writeback.LagMs + 100);
        index.Append(chunk);
        log.Append(chunk);
        Assert.True(SpinWait.SpinUntil(() => WritebackWorker.Shared!.Idle, TimeSpan.FromSeconds(30)), "write-out requests made");

        var (indexCached, _) = CacheStat(indexPath);
        var (logCached, _) = CacheStat(logPath);
        Assert.True(indexCached >= 33 * 64 - 64, $"the index keeps its pages ({indexCached} of {33 * 64})");
        Assert.True(logCached < 17 * 64 / 2, $"the segment's written-out pages are dropped ({logCached} of {17 * 64} cached)");
    }

    [Fact]
    public void The_drop_stays_the_distance_behind_and_truncation_pulls_it_back()
    {
        const long MiB = 1024 * 1024;
        var path = Path.Combine(_directory, "drop.log");
        using var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        RandomAccess.Write(handle, new byte[8 * MiB], 0);

        var schedule = new WritebackSchedule(() => handle, 0, lagMs: 0, () => 0, worker: null, dropBehindBytes: 2 * MiB);
        schedule.DropBehind(MiB); // less than the distance: nothing to drop yet
        Assert.Equal(0, schedule.Dropped);
        schedule.DropBehind(4 * MiB);
        Assert.Equal(2 * MiB, schedule.Dropped);
        schedule.DropBehind(4 * MiB + 512 * 1024);
        Assert.Equal(2 * MiB + 512 * 1024, schedule.Dropped);
        schedule.OnTruncated(MiB);
        Assert.Equal(MiB, schedule.Dropped);

        // A distance under one interval counts as one interval: the range just started is never dropped.
        var near = new WritebackSchedule(() => handle, 0, lagMs: 0, () => 0, worker: null, dropBehindBytes: 0);
        near.DropBehind(3 * MiB);
        Assert.Equal(2 * MiB, near.Dropped);

        // Off by default.
        var off = new WritebackSchedule(() => handle, 0, lagMs: 0, () => 0);
        off.DropBehind(8 * MiB);
        Assert.Equal(0, off.Dropped);
    }

    [Fact]
    public void A_drop_for_a_file_closed_meanwhile_is_quiet()
    {
        var path = Path.Combine(_directory, "closed-drop.log");
        var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        RandomAccess.Write(handle, new byte[4 * Writeback.IntervalBytes], 0);
        var schedule = new WritebackSchedule(() => handle, 0, lagMs: 0, () => 0, worker: null, dropBehindBytes: 0);
        handle.Dispose();

        Assert.True(Writeback.Drop(handle, 0, Writeback.IntervalBytes));
        schedule.DropBehind(4 * Writeback.IntervalBytes);
        Assert.Equal(3 * Writeback.IntervalBytes, schedule.Dropped);
    }

    [Fact]
    public void After_read_the_drop_follows_the_slowest_reader_in_whole_pages_and_keeps_a_file_nobody_reads()
    {
        const long MiB = 1024 * 1024;
        var path = Path.Combine(_directory, "after-read.log");
        using var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        RandomAccess.Write(handle, new byte[8 * MiB], 0);
        var schedule = new WritebackSchedule(() => handle, 0, lagMs: 0, () => 0, worker: null, dropAfterRead: true);

        schedule.DropBehind(8 * MiB);
        Assert.Equal(0, schedule.Dropped); // nobody has read it: its pages stay for whoever comes

        schedule.OnRead("c1", 3 * MiB + 100);
        schedule.OnRead("c2", 5 * MiB);
        schedule.DropBehind(8 * MiB);
        Assert.Equal(3 * MiB, schedule.Dropped); // the slower reader, down to its page

        schedule.OnRead("c1", 7 * MiB + 512 * 1024);
        schedule.DropBehind(7 * MiB);
        Assert.Equal(5 * MiB, schedule.Dropped);
        schedule.OnRead("c2", 8 * MiB);
        schedule.DropBehind(7 * MiB);
        Assert.Equal(6 * MiB, schedule.Dropped); // never into the interval before the range just started

        schedule.OnTruncated(4 * MiB + 10);
        Assert.Equal(4 * MiB, schedule.Dropped);
        schedule.DropBehind(8 * MiB);
        Assert.Equal(4 * MiB, schedule.Dropped); // the positions noted before the cut no longer count

        // With a distance too, whichever lets more go decides.
        var both = new WritebackSchedule(() => handle, 0, lagMs: 0, () => 0, worker: null, dropBehindBytes: 4 * MiB, dropAfterRead: true);
        both.OnRead("c1", MiB);
        both.DropBehind(8 * MiB);
        Assert.Equal(4 * MiB, both.Dropped);
        both.OnRead("c1", 6 * MiB);
        both.DropBehind(8 * MiB);
        Assert.Equal(6 * MiB, both.Dropped);
    }

    [Fact]
    public void After_read_the_pages_a_reader_has_passed_leave_the_page_cache_and_the_rest_stay()
    {
        const int MiB = 1024 * 1024;
        var chunk = new byte[256 * 1024];
        var path = Path.Combine(_directory, "00000000000000000000.log");
        using var segment = new FileLogFile(path, writebackLagMs: 0, cacheDropAfterRead: true);
        segment.OnRead("c1", 4 * MiB);
        for (var i = 0; i < 32; i++)
        {
            new Random(i).NextBytes(chunk);
            segment.Append(chunk);
        }

        Assert.True(SpinWait.SpinUntil(() => WritebackWorker.Shared!.Idle, TimeSpan.FromSeconds(30)), "write-out requests made");
        var (passedCached, _) = CacheStat(path, 0, 4 * MiB);
        var (aheadCached, _) = CacheStat(path, 4 * MiB, 4 * MiB);
        Assert.True(passedCached < 64, $"{passedCached} of {4 * MiB / PageBytes} pages the reader passed still cached");
        Assert.True(aheadCached >= 4 * MiB / PageBytes - 64, $"the pages ahead of the reader stay cached ({aheadCached} of {4 * MiB / PageBytes})");

        var read = new byte[chunk.Length];
        for (var i = 0; i < 32; i++)
        {
            new Random(i).NextBytes(chunk);
            Assert.Equal(read.Length, segment.ReadAt((long)i * chunk.Length, read));
            Assert.True(chunk.AsSpan().SequenceEqual(read), $"chunk {i} reads back as written");
        }
    }

    private static (long Cached, long Dirty) CacheStat(string path, long offset = 0, long length = 0) => PageCache.Stat(path, offset, length);
}
