using System.Buffers.Binary;
using Tributary.Storage.Segments;
using static Tributary.Storage.Tests.RecordBatchBuilder;

namespace Tributary.Storage.Tests;

/// <summary>
/// Index entries wait in memory and reach their files <see cref="IndexEntries.PendingEntriesMax"/> at a time, at a roll
/// or at a clean close; lookups see them either way, and a crash loses only what recovery rebuilds.
/// </summary>
public sealed class IndexEntriesTests
{
    private const string Topic = "indexed";

    // Every batch after the first gets an offset-index entry (index.interval.bytes 0), and, its timestamp being the
    // newest, a time-index entry: two blocks written and 45 entries left in memory.
    private const int Batches = (2 * IndexEntries.PendingEntriesMax) + 45 + 1;
    private const int WrittenEntries = 2 * IndexEntries.PendingEntriesMax;

    private static readonly LogConfig Config = LogConfig.Default with { IndexIntervalBytes = 0 };

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void Entries_reach_the_files_a_block_at_a_time_and_lookups_find_those_still_in_memory(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        using (var manager = target.Open(Config))
        {
            var log = manager.GetOrCreate(Topic, 0, Config);
            AppendBatches(log);

            Assert.Equal(WrittenEntries * OffsetIndex.EntryBytes, IndexFile(target).Length);
            Assert.Equal(WrittenEntries * TimeIndex.EntryBytes, TimeIndexFile(target).Length);
            AssertLookups(log);
        }

        // A clean close writes the rest.
        var index = IndexFile(target);
        Assert.Equal((Batches - 1) * OffsetIndex.EntryBytes, index.Length);
        Assert.Equal((Batches - 1) * TimeIndex.EntryBytes, TimeIndexFile(target).Length);
        var last = index.AsSpan((Batches - 2) * OffsetIndex.EntryBytes);
        Assert.Equal(Batches - 1, BinaryPrimitives.ReadInt32BigEndian(last)); // the last batch's (relative) offset

        using (var manager = target.Open(Config))
        {
            Assert.True(manager.TryGet(Topic, 0, out var log));
            AssertLookups(log);
        }
    }

    [Fact]
    public void A_roll_writes_the_entries_of_the_segment_it_leaves()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        using var manager = target.Open(Config);
        var config = Config with { SegmentMs = 60_000 };
        var log = manager.GetOrCreate(Topic, 0, config);
        AppendBatches(log);
        Assert.Equal(WrittenEntries * OffsetIndex.EntryBytes, IndexFile(target).Length);

        target.Time.Advance(TimeSpan.FromSeconds(61));
        log.Append(Build("next", 1, baseTimestampMs: TimestampOf(Batches)));

        Assert.Equal([0L, Batches], log.SegmentBaseOffsets);
        Assert.Equal((Batches - 1) * OffsetIndex.EntryBytes, IndexFile(target).Length);
        Assert.Equal((Batches - 1) * TimeIndex.EntryBytes, TimeIndexFile(target).Length);
    }

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void A_crash_loses_only_the_entries_in_memory_and_recovery_rebuilds_them(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        var manager = target.Open(Config);
        AppendBatches(manager.GetOrCreate(Topic, 0, Config));
        StorageTarget.Crash(manager);
        Assert.Equal(WrittenEntries * OffsetIndex.EntryBytes, IndexFile(target).Length);

        using (var reopened = target.Open(Config))
        {
            Assert.True(reopened.TryGet(Topic, 0, out var log));
            Assert.Equal((Batches - 1) * OffsetIndex.EntryBytes, IndexFile(target).Length);
            AssertLookups(log);
        }
    }

    /// <summary>
    /// Lookups racing the appender across many write-outs: each new block of entries replaces the buffer the readers
    /// were reading, and every answer must still be the batch asked for.
    /// </summary>
    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void Lookups_during_appends_find_every_batch(DeviceKind kind)
    {
        const int batches = 12 * IndexEntries.PendingEntriesMax;
        using var target = new StorageTarget(kind);
        using var manager = target.Open(Config);
        var log = manager.GetOrCreate(Topic, 0, Config);
        log.Append(Build("r0", 1, baseTimestampMs: TimestampOf(0)));
        var appended = 1;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var lookups = 0;
        using var readersStarted = new CountdownEvent(2);

        // The appender starts once both readers have made a lookup, so however fast the appends run, the lookups
        // overlap them; it does not wait for the readers after that, so their reads race its write-outs.
        var appender = new Thread(() =>
        {
            readersStarted.Wait(TimeSpan.FromSeconds(30));
            for (var i = 1; i < batches; i++)
            {
                log.Append(Build($"r{i}", 1, baseTimestampMs: TimestampOf(i)));
                Volatile.Write(ref appended, i + 1);
            }
        });
        var readers = Enumerable.Range(0, 2).Select(seed => new Thread(() =>
        {
            var random = new Random(seed);
            var first = true;
            while (first || (Volatile.Read(ref appended) < batches && failures.IsEmpty))
            {
                // Mostly the newest entries: those are the ones in memory, and the ones a write-out moves.
                var newest = Volatile.Read(ref appended) - 1;
                var batch = random.Next(2) == 0 ? random.Next(newest + 1) : Math.Max(0, newest - random.Next(IndexEntries.PendingEntriesMax));
                if (log.FirstOffsetAtOrAfterTimestamp(TimestampOf(batch)) is var found && found != batch)
                {
                    failures.Enqueue($"timestamp of batch {batch} found offset {found}");
                }

                Interlocked.Increment(ref lookups);
                if (first)
                {
                    first = false;
                    readersStarted.Signal();
                }
            }
        })).ToList();

        appender.Start();
        readers.ForEach(r => r.Start());
        Assert.True(appender.Join(TimeSpan.FromSeconds(60)), "the appender did not finish");
        readers.ForEach(r => Assert.True(r.Join(TimeSpan.FromSeconds(60)), "a reader did not finish"));

        Assert.Empty(failures);
        Assert.True(lookups >= 2, $"{lookups} lookups");
        Assert.Equal(batches, log.LogEndOffset);
    }

    /// <summary>
    /// A disk that refuses the index files' write-outs (full, or failing) part way through a write: every append still
    /// succeeds, with its offsets, the files keep whole entries only, the entries that did not fit are left out and the
    /// index stays a right guide with a gap, one warning is logged, and once the disk takes writes again the index
    /// grows on, a clean close writes it out and the next start loads it without a rebuild.
    /// </summary>
    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void An_index_the_disk_refuses_fails_no_append_and_lookups_still_find_every_batch(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        var device = new RefusingDevice(target.Device, IsIndexFile);
        var logs = new CapturingLoggerFactory();
        const int before = 100;
        const int refused = (2 * IndexEntries.PendingEntriesMax) + 30;
        const int after = (2 * IndexEntries.PendingEntriesMax) + 10;
        const int total = before + refused + after;
        using (var manager = new LogManager(device, target.DataDirectory, Config, target.Time, logs))
        {
            var log = manager.GetOrCreate(Topic, 0, Config);
            AppendRange(log, 0, before);

            // Each refused write-out first lands 5 bytes: part of an entry, as a write cut short by a full disk.
            device.Refuse = true;
            AppendRange(log, before, before + refused);
            Assert.Equal(before + refused, log.LogEndOffset);
            Assert.Empty(IndexFile(target));
            Assert.Empty(TimeIndexFile(target));
            Assert.Single(logs.Messages, m => m.EventId == 3008);
            AssertEveryBatch(log, before + refused);

            device.Refuse = false;
            AppendRange(log, before + refused, total);
            Assert.Equal(total, log.LogEndOffset);
            Assert.Single(logs.Messages, m => m.EventId == 3008);
            var written = IndexFile(target);
            Assert.NotEmpty(written);
            Assert.Equal(0, written.Length % OffsetIndex.EntryBytes);
            Assert.Equal(0, TimeIndexFile(target).Length % TimeIndex.EntryBytes);
            AssertEveryBatch(log, total);
        }

        var index = IndexFile(target);
        var entries = index.Length / OffsetIndex.EntryBytes;
        Assert.True(entries < total - 1, $"{entries} entries: the refused ones should have been left out");
        for (var i = 1; i < entries; i++)
        {
            // Increasing in both fields, across the gap.
            Assert.True(BinaryPrimitives.ReadInt32BigEndian(index.AsSpan(i * 8)) > BinaryPrimitives.ReadInt32BigEndian(index.AsSpan((i - 1) * 8)));
            Assert.True(BinaryPrimitives.ReadInt32BigEndian(index.AsSpan((i * 8) + 4)) > BinaryPrimitives.ReadInt32BigEndian(index.AsSpan(((i - 1) * 8) + 4)));
        }

        using (var reopened = new LogManager(device, target.DataDirectory, Config, target.Time, logs))
        {
            Assert.True(reopened.LoadedAfterCleanShutdown);
            Assert.DoesNotContain(logs.Messages, m => m.EventId is 3001 or 3003); // neither truncated nor rebuilt
            Assert.True(reopened.TryGet(Topic, 0, out var log));
            AssertEveryBatch(log, total);
        }
    }

    /// <summary>
    /// A clean close while the disk still refuses one log's index: the close fails rather than promise that the indexes
    /// and their log agree, the other log is still flushed and closed, one error is logged, no clean-shutdown marker is
    /// written, and the next start recovers every batch of both.
    /// </summary>
    [Fact]
    public void A_close_the_disk_refuses_for_one_log_still_closes_the_others_and_writes_no_clean_marker()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        var device = new RefusingDevice(target.Device, path => path.Contains($"{Topic}-0/", StringComparison.Ordinal) && IsIndexFile(path));
        var logs = new CapturingLoggerFactory();
        var manager = new LogManager(device, target.DataDirectory, Config, target.Time, logs);
        AppendRange(manager.GetOrCreate(Topic, 0, Config), 0, 50);
        AppendRange(manager.GetOrCreate(Topic, 1, Config), 0, 50);
        device.Refuse = true;

        Assert.Throws<IOException>(manager.Dispose);
        Assert.Single(logs.Messages, m => m.EventId == 3009);
        Assert.Equal(49 * OffsetIndex.EntryBytes, target.ReadFile(target.SegmentFile(Topic, 1, 0, ".index")).Length);
        Assert.False(target.Device.FileExists(Path.Combine(target.DataDirectory, LogManager.CleanShutdownFileName)));
        device.Refuse = false;

        using var reopened = new LogManager(device, target.DataDirectory, Config, target.Time);
        Assert.False(reopened.LoadedAfterCleanShutdown);
        foreach (var partition in new[] { 0, 1 })
        {
            Assert.True(reopened.TryGet(Topic, partition, out var log));
            AssertEveryBatch(log, 50);
        }
    }

    /// <summary>
    /// The same for the log file itself: an append the disk refuses part way fails, leaves no part of its batch behind
    /// for the next append to follow, takes no offsets, and the log goes on once the disk takes writes again.
    /// </summary>
    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void A_log_append_the_disk_refuses_fails_and_leaves_nothing_behind(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        var device = new RefusingDevice(target.Device, path => path.EndsWith(".log", StringComparison.Ordinal));
        using (var manager = new LogManager(device, target.DataDirectory, Config, target.Time))
        {
            var log = manager.GetOrCreate(Topic, 0, Config);
            AppendRange(log, 0, 20);
            var logBytes = target.ReadFile(target.SegmentFile(Topic, 0, 0, ".log")).Length;

            device.Refuse = true;
            Assert.Throws<IOException>(() => log.Append(Build("refused", 1, baseTimestampMs: TimestampOf(20))));
            Assert.Equal(20, log.LogEndOffset);
            Assert.Equal(logBytes, target.ReadFile(target.SegmentFile(Topic, 0, 0, ".log")).Length);

            device.Refuse = false;
            AppendRange(log, 20, 40);
            AssertEveryBatch(log, 40);
        }

        using var reopened = new LogManager(device, target.DataDirectory, Config, target.Time);
        Assert.True(reopened.TryGet(Topic, 0, out var loaded));
        AssertEveryBatch(loaded, 40);
    }

    private static void AppendRange(Storage.PartitionLog log, int from, int to)
    {
        for (var i = from; i < to; i++)
        {
            log.Append(Build($"r{i}", 1, baseTimestampMs: TimestampOf(i)));
        }
    }

    private static void AssertEveryBatch(Storage.PartitionLog log, int batches)
    {
        for (var i = 0; i < batches; i++)
        {
            Assert.Equal(i, log.FirstOffsetAtOrAfterTimestamp(TimestampOf(i)));
            Assert.Equal([((long)i, $"r{i}-0")], ReadRecords(log.Read(i, new LogReadOptions(1)).Records));
        }
    }

    private static void AppendBatches(Storage.PartitionLog log) => AppendRange(log, 0, Batches);

    private static long TimestampOf(int batch) => 10_000 + (batch * 10L);

    /// <summary>
    /// Offsets by timestamp go through both indexes; an old offset is looked up in the offset index (the recent-batch
    /// ring holds only the newest). Both reach entries in the files and in memory.
    /// </summary>
    private static void AssertLookups(Storage.PartitionLog log)
    {
        foreach (var batch in new[] { 1, 100, 300, WrittenEntries - 1, WrittenEntries + 1, WrittenEntries + 20, Batches - 1 })
        {
            Assert.Equal(batch, log.FirstOffsetAtOrAfterTimestamp(TimestampOf(batch)));
            Assert.Equal(batch, log.FirstOffsetAtOrAfterTimestamp(TimestampOf(batch) - 5));
        }

        foreach (var offset in new long[] { 0, 7, 150, 299 })
        {
            Assert.Equal([(offset, $"r{offset}-0")], ReadRecords(log.Read(offset, new LogReadOptions(1)).Records));
        }
    }

    private static byte[] IndexFile(StorageTarget target) => target.ReadFile(target.SegmentFile(Topic, 0, 0, ".index"));

    private static byte[] TimeIndexFile(StorageTarget target) => target.ReadFile(target.SegmentFile(Topic, 0, 0, ".timeindex"));

    private static bool IsIndexFile(string path) =>
        path.EndsWith(".index", StringComparison.Ordinal) || path.EndsWith(".timeindex", StringComparison.Ordinal);
}
