using Tributary.Protocol.Records;
using Tributary.Storage.Devices;
using static Tributary.Storage.Tests.RecordBatchBuilder;

namespace Tributary.Storage.Tests;

/// <summary>What survives a restart, a crash, a torn write or a corrupt byte.</summary>
public sealed class RecoveryTests
{
    private const string Topic = "pay-ments-v2"; // dashes in the name: directories split on the last one

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void Clean_shutdown_reopens_without_recovery_and_appends_continue(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        var config = LogConfig.Default with { SegmentBytes = 200, IndexIntervalBytes = 50 };
        List<(long, string)> before;
        using (var manager = target.Open(config))
        {
            var log = manager.GetOrCreate(Topic, 1, config);
            for (var i = 0; i < 10; i++)
            {
                log.Append(Build($"r{i}", 2));
            }

            before = SegmentRollTests.ConsumeAll(log);
        }

        var marker = Path.Combine(target.DataDirectory, LogManager.CleanShutdownFileName);
        Assert.True(target.Device.FileExists(marker));

        using (var manager = target.Open(config))
        {
            Assert.True(manager.LoadedAfterCleanShutdown);
            Assert.False(target.Device.FileExists(marker)); // a crash from now on must be noticed
            Assert.True(manager.TryGet(Topic, 1, out var log));
            Assert.Equal(20, log.LogEndOffset);
            Assert.Equal(before, SegmentRollTests.ConsumeAll(log));
            Assert.Equal(20, log.Append(Build("after", 1)).FirstOffset);
            Assert.Equal(0, log.FirstOffsetAtOrAfterTimestamp(0));
            Assert.Equal((0L, 1_700_000_000_001L), log.MaxTimestamp());
        }
    }

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void A_crash_with_intact_files_loses_nothing(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        var manager = target.Open();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.Append(Build("a", 3));
        log.Append(Build("b", 2));
        StorageTarget.Crash(manager);

        using var reopened = target.Open();

        Assert.False(reopened.LoadedAfterCleanShutdown);
        Assert.True(reopened.TryGet(Topic, 0, out var recovered));
        Assert.Equal(5, recovered.LogEndOffset);
        Assert.Equal(["a-0", "a-1", "a-2", "b-0", "b-1"], SegmentRollTests.ConsumeAll(recovered).Select(r => r.Value));
    }

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void A_torn_last_batch_is_cut_off_and_appends_reuse_its_offsets(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        var manager = target.Open();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.Append(Build("a", 3));
        log.Append(Build("b", 2));
        log.Append(Build("torn", 4)); // offsets 5-8
        StorageTarget.Crash(manager);
        var logFile = target.SegmentFile(Topic, 0, 0, ".log");
        var length = target.ReadFile(logFile).Length;
        target.TruncateFile(logFile, length - 7);

        using var reopened = target.Open();

        Assert.True(reopened.TryGet(Topic, 0, out var recovered));
        Assert.Equal(5, recovered.LogEndOffset);
        Assert.Equal(length - Build("torn", 4).Length, target.ReadFile(logFile).Length);
        Assert.Equal(5, recovered.Append(Build("c", 1)).FirstOffset);
        Assert.Equal(["a-0", "a-1", "a-2", "b-0", "b-1", "c-0"], SegmentRollTests.ConsumeAll(recovered).Select(r => r.Value));
    }

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void A_flipped_byte_in_the_last_batch_cuts_the_log_at_that_batch(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        var manager = target.Open();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.Append(Build("a", 3));
        log.Append(Build("b", 2)); // offsets 3-4, corrupted below
        StorageTarget.Crash(manager);
        var logFile = target.SegmentFile(Topic, 0, 0, ".log");
        var bytes = target.ReadFile(logFile);
        bytes[^3] ^= 0x40; // inside the last record's value: only the CRC can notice
        target.WriteFile(logFile, bytes);

        using var reopened = target.Open();

        Assert.True(reopened.TryGet(Topic, 0, out var recovered));
        Assert.Equal(3, recovered.LogEndOffset);
        Assert.Equal(["a-0", "a-1", "a-2"], SegmentRollTests.ConsumeAll(recovered).Select(r => r.Value));
        Assert.Equal(3, recovered.Append(Build("c", 1)).FirstOffset);
        Assert.Equal(LogReadStatus.Ok, recovered.Read(3, new LogReadOptions(1000)).Status);
        Assert.Equal("c-0", ReadRecords(recovered.Read(3, new LogReadOptions(1000)).Records).Single().Value);
    }

    [Fact]
    public void Corruption_in_an_earlier_segment_with_a_bad_index_cuts_the_log_there_and_drops_later_segments()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        var config = LogConfig.Default with { SegmentBytes = 250 };
        using (var manager = target.Open(config))
        {
            var log = manager.GetOrCreate(Topic, 0, config);
            for (var i = 0; i < 9; i++)
            {
                log.Append(Build($"r{i}", 2));
            }

            Assert.True(log.SegmentCount >= 3);
        }

        // Corrupt the first segment's last batch and delete its index, so the load has to scan it.
        var logFile = target.SegmentFile(Topic, 0, 0, ".log");
        var bytes = target.ReadFile(logFile);
        bytes[^2] ^= 0x01;
        target.WriteFile(logFile, bytes);
        target.Device.DeleteFile(target.SegmentFile(Topic, 0, 0, ".index"));

        using var reopened = target.Open(config);

        Assert.True(reopened.TryGet(Topic, 0, out var recovered));
        Assert.Equal(1, recovered.SegmentCount);
        var kept = SegmentRollTests.ConsumeAll(recovered);
        Assert.Equal(recovered.LogEndOffset, kept.Count);
        Assert.Equal(Enumerable.Range(0, kept.Count).Select(i => (long)i), kept.Select(r => r.Offset));
        Assert.Equal(recovered.LogEndOffset, recovered.Append(Build("next", 1)).FirstOffset);
    }

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void A_deleted_index_is_rebuilt_with_the_same_entries(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        var config = LogConfig.Default with { IndexIntervalBytes = 100 };
        var indexFile = target.SegmentFile(Topic, 0, 0, ".index");
        var timeIndexFile = target.SegmentFile(Topic, 0, 0, ".timeindex");
        using (var manager = target.Open(config))
        {
            var log = manager.GetOrCreate(Topic, 0, config);
            for (var i = 0; i < 30; i++)
            {
                log.Append(Build($"r{i}", 3, baseTimestampMs: 10_000 + (i * 10)));
            }
        }

        var originalIndex = target.ReadFile(indexFile);
        var originalTimeIndex = target.ReadFile(timeIndexFile);
        Assert.True(originalIndex.Length >= 8 * 10);
        target.Device.DeleteFile(indexFile);
        target.Device.DeleteFile(timeIndexFile);

        using (var manager = target.Open(config))
        {
            Assert.True(manager.TryGet(Topic, 0, out var log));
            Assert.Equal(originalIndex, target.ReadFile(indexFile));
            Assert.Equal(3 * 17, ReadHeaders(log.Read((3 * 17) + 1, new LogReadOptions(1)).Records)[0].BaseOffset);
            Assert.Equal(3 * 20, log.FirstOffsetAtOrAfterTimestamp(10_200));
        }

        // The time index's final entry is written when the segment is closed, as the original's was.
        Assert.Equal(originalTimeIndex, target.ReadFile(timeIndexFile));
    }

    [Fact]
    public void A_garbage_index_is_not_trusted_even_after_a_clean_shutdown()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        var config = LogConfig.Default with { IndexIntervalBytes = 0 };
        using (var manager = target.Open(config))
        {
            var log = manager.GetOrCreate(Topic, 0, config);
            for (var i = 0; i < 5; i++)
            {
                log.Append(Build($"r{i}", 2));
            }
        }

        // An entry pointing far beyond the log.
        target.WriteFile(target.SegmentFile(Topic, 0, 0, ".index"), [0, 0, 0, 9, 0x7F, 0, 0, 0]);

        using var reopened = target.Open(config);

        Assert.True(reopened.TryGet(Topic, 0, out var recovered));
        Assert.Equal(10, recovered.LogEndOffset);
        Assert.Equal(10, SegmentRollTests.ConsumeAll(recovered).Count);
    }

    [Fact]
    public void With_flush_messages_one_acknowledged_appends_survive_power_loss()
    {
        var device = new MemoryLogDevice();
        var time = new ManualTimeProvider();
        var config = LogConfig.Default with { FlushIntervalMessages = 1 };
        var manager = new LogManager(device, "/data", config, time);
        var log = manager.GetOrCreate(Topic, 0, config);
        log.Append(Build("a", 2));
        log.Append(Build("b", 1));
        StorageTarget.Crash(manager);

        device.DiscardUnflushed();

        using var reopened = new LogManager(device, "/data", config, time);
        Assert.True(reopened.TryGet(Topic, 0, out var recovered));
        Assert.Equal(["a-0", "a-1", "b-0"], SegmentRollTests.ConsumeAll(recovered).Select(r => r.Value));
    }

    [Fact]
    public void With_the_default_flush_policy_power_loss_can_lose_unflushed_appends_but_never_corrupts()
    {
        var device = new MemoryLogDevice();
        var time = new ManualTimeProvider();
        var manager = new LogManager(device, "/data", LogConfig.Default, time);
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.Append(Build("a", 2));
        log.Flush();
        log.Append(Build("b", 1));
        StorageTarget.Crash(manager);

        device.DiscardUnflushed();

        using var reopened = new LogManager(device, "/data", LogConfig.Default, time);
        Assert.True(reopened.TryGet(Topic, 0, out var recovered));
        Assert.Equal(["a-0", "a-1"], SegmentRollTests.ConsumeAll(recovered).Select(r => r.Value));
        Assert.Equal(2, recovered.Append(Build("c", 1)).FirstOffset);
    }

    [Fact]
    public void Every_recovered_batch_has_a_valid_crc()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        var manager = target.Open();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        for (var i = 0; i < 4; i++)
        {
            log.Append(Build($"r{i}", 2));
        }

        StorageTarget.Crash(manager);
        var logFile = target.SegmentFile(Topic, 0, 0, ".log");
        var bytes = target.ReadFile(logFile);
        var secondBatch = Build("r0", 2).Length;
        bytes[secondBatch + RecordBatchHeader.Size + 2] ^= 0xFF; // corrupt batch 2 of 4

        target.WriteFile(logFile, bytes);
        using var reopened = target.Open();

        Assert.True(reopened.TryGet(Topic, 0, out var recovered));
        Assert.Equal(2, recovered.LogEndOffset);
        ReadHeaders(recovered.Read(0, new LogReadOptions(1 << 20)).Records); // asserts each CRC
    }

    /// <summary>
    /// A start after kill -9 scans every partition's tail; a tail found whole changed nothing durable, so the start
    /// makes no fsync for it (50,000 partitions would cost 150,000 fsyncs). A tail that had to be cut is flushed.
    /// </summary>
    [Fact]
    public void A_restart_after_a_crash_fsyncs_only_the_tails_it_cut()
    {
        var device = new RecordingDevice();
        var config = LogConfig.Default with { SegmentBytes = 1024 };
        var crashed = new LogManager(device, "/data", config);
        for (var p = 0; p < 20; p++)
        {
            var log = crashed.GetOrCreate(Topic, p, config);
            for (var i = 0; i < 10; i++)
            {
                log.Append(Build($"p{p}-{i}", 3));
            }
        }

        // The broker's periodic checkpoint: segments rolled past are flushed, so recovery leaves them alone.
        crashed.CheckpointRecoveryPoints();
        StorageTarget.Crash(crashed);
        var flushesBefore = device.Flushes;
        using (var whole = new LogManager(device, "/data", config))
        {
            Assert.False(whole.LoadedAfterCleanShutdown);
            Assert.Equal(0, device.Flushes - flushesBefore);
            Assert.True(whole.TryGet(Topic, 7, out var log));
            Assert.Equal(30, log.LogEndOffset);
            StorageTarget.Crash(whole);
        }

        // A torn last batch in one partition: its tail is cut, and that cut is made durable.
        var tail = Path.Combine("/data", $"{Topic}-3");
        var last = device.ListFiles(tail).Where(n => n.EndsWith(".log", StringComparison.Ordinal)).Max()!;
        using (var file = device.OpenFile(Path.Combine(tail, last)))
        {
            file.Truncate(file.Length - 5);
        }

        flushesBefore = device.Flushes;
        using var cut = new LogManager(device, "/data", config);
        Assert.Equal(3, device.Flushes - flushesBefore); // the log and its two indexes
        Assert.True(cut.TryGet(Topic, 3, out var torn));
        Assert.Equal(27, torn.LogEndOffset);
    }
}
