using static Tributary.Storage.Tests.RecordBatchBuilder;

namespace Tributary.Storage.Tests;

/// <summary>Old data goes away by size, by age, or by DeleteRecords, and consumers see the new log start offset.</summary>
public sealed class RetentionTests
{
    private const string Topic = "clicks";

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void Retention_bytes_deletes_the_oldest_whole_segments_and_advances_the_log_start_offset(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        using var manager = target.Open();
        var batch = Build("x", 2);
        var config = LogConfig.Default with { SegmentBytes = batch.Length * 2, RetentionBytes = batch.Length * 5, RetentionMs = -1 };
        var log = manager.GetOrCreate(Topic, 0, config);
        for (var i = 0; i < 10; i++)
        {
            log.Append(batch.ToArray()); // segments of 2 batches (4 offsets): bases 0, 4, 8, 12, 16
        }

        var deleted = manager.RunRetention();

        // 10 batches, at most 5 kept: deleting 2 segments leaves 6 batches; a third would leave 4, below the limit.
        Assert.Equal(2, deleted);
        Assert.Equal([8L, 12L, 16L], log.SegmentBaseOffsets);
        Assert.Equal(8, log.LogStartOffset);
        Assert.False(target.Device.FileExists(target.SegmentFile(Topic, 0, 0, ".log")));
        Assert.False(target.Device.FileExists(target.SegmentFile(Topic, 0, 4, ".index")));
        Assert.Equal(LogReadStatus.OffsetOutOfRange, log.Read(7, new LogReadOptions(1000)).Status);
        Assert.Equal(8, ReadHeaders(log.Read(8, new LogReadOptions(1000)).Records)[0].BaseOffset);
        Assert.Equal(0, manager.RunRetention());
    }

    [Fact]
    public void Retention_ms_deletes_segments_whose_newest_record_is_too_old_but_never_the_active_one()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        using var manager = target.Open();
        var config = LogConfig.Default with { SegmentBytes = 100, RetentionMs = 60_000 };
        var log = manager.GetOrCreate(Topic, 0, config);
        var now = target.Time.NowMs;
        log.Append(Build("old", 1, baseTimestampMs: now - 120_000)); // segment 0
        log.Append(Build("old", 1, baseTimestampMs: now - 61_000)); // segment 1
        log.Append(Build("new", 1, baseTimestampMs: now - 30_000)); // segment 2
        log.Append(Build("now", 1, baseTimestampMs: now - 200_000)); // segment 3, active (old timestamp, still kept)
        Assert.Equal(4, log.SegmentCount);

        Assert.Equal(2, manager.RunRetention());
        Assert.Equal(2, log.LogStartOffset);
        Assert.Equal([2L, 3L], log.SegmentBaseOffsets);

        target.Time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(1, manager.RunRetention());
        Assert.Equal(3, log.LogStartOffset);
        Assert.Equal([3L], log.SegmentBaseOffsets);

        target.Time.Advance(TimeSpan.FromDays(30));
        Assert.Equal(0, manager.RunRetention());
        Assert.Equal(4, log.LogEndOffset);
        Assert.Single(ReadRecords(log.Read(3, new LogReadOptions(1000)).Records));
    }

    [Fact]
    public void Infinite_retention_keeps_everything()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        using var manager = target.Open();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default with { SegmentBytes = 100, RetentionMs = -1 });
        log.Append(Build("a", 1, baseTimestampMs: 0));
        log.Append(Build("b", 1, baseTimestampMs: 0));

        target.Time.Advance(TimeSpan.FromDays(3650));

        Assert.Equal(0, manager.RunRetention());
        Assert.Equal(0, log.LogStartOffset);
    }

    [Theory]
    [InlineData(DeviceKind.Memory, true)]
    [InlineData(DeviceKind.Memory, false)]
    [InlineData(DeviceKind.File, true)]
    [InlineData(DeviceKind.File, false)]
    public void Delete_records_survives_a_restart(DeviceKind kind, bool cleanShutdown)
    {
        using var target = new StorageTarget(kind);
        var config = LogConfig.Default with { SegmentBytes = 200 };
        var manager = target.Open(config);
        var log = manager.GetOrCreate(Topic, 2, config);
        for (var i = 0; i < 10; i++)
        {
            log.Append(Build($"r{i}", 2));
        }

        var segmentsBefore = log.SegmentCount;
        Assert.Equal(9, log.DeleteRecordsBefore(9));
        Assert.True(log.SegmentCount < segmentsBefore, "segments wholly below the new start are deleted");
        Assert.Equal(9, log.DeleteRecordsBefore(3)); // never moves backwards
        if (cleanShutdown)
        {
            manager.Dispose();
        }
        else
        {
            StorageTarget.Crash(manager);
        }

        using var reopened = target.Open(config);

        Assert.True(reopened.TryGet(Topic, 2, out var recovered));
        Assert.Equal(9, recovered.LogStartOffset);
        Assert.Equal(LogReadStatus.OffsetOutOfRange, recovered.Read(8, new LogReadOptions(1000)).Status);
        Assert.Equal("r4-1", SegmentRollTests.ConsumeAll(recovered)[0].Value);
        Assert.Equal(20, recovered.LogEndOffset);
    }

    [Fact]
    public void Delete_records_to_the_high_watermark_empties_the_log_for_consumers()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.Append(Build("a", 3));

        Assert.Equal(3, log.DeleteRecordsBefore(-1));

        Assert.Equal(LogReadStatus.OffsetOutOfRange, log.Read(0, new LogReadOptions(1000)).Status);
        var read = log.Read(3, new LogReadOptions(1000));
        Assert.Equal(LogReadStatus.Ok, read.Status);
        Assert.True(read.Records.IsEmpty);
        Assert.Throws<ArgumentOutOfRangeException>(() => log.DeleteRecordsBefore(4));
        Assert.Equal(3, log.Append(Build("b", 1)).FirstOffset);
        Assert.Equal(3, log.Append(Build("c", 1)).LogStartOffset);
    }
}
