using System.Buffers.Binary;
using Tributary.Storage.Segments;
using static Tributary.Storage.Tests.RecordBatchBuilder;

namespace Tributary.Storage.Tests;

/// <summary>Segments roll by size and age, and their files are in Kafka's layout and format.</summary>
public sealed class SegmentRollTests
{
    private const string Topic = "events";

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void Segments_roll_before_exceeding_segment_bytes_and_a_consumer_reads_across_them(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        using var manager = target.Open();
        var batch = Build("x", 2);
        var log = manager.GetOrCreate(Topic, 3, LogConfig.Default with { SegmentBytes = (batch.Length * 3) + 10 });

        for (var i = 0; i < 10; i++)
        {
            log.Append(batch.ToArray());
        }

        // Three batches per segment: offsets 0-5, 6-11, 12-17, 18-19.
        Assert.Equal([0L, 6L, 12L, 18L], log.SegmentBaseOffsets);
        foreach (var baseOffset in log.SegmentBaseOffsets)
        {
            var logFile = target.SegmentFile(Topic, 3, baseOffset, ".log");
            Assert.True(target.Device.FileExists(logFile));
            Assert.True(target.Device.FileExists(target.SegmentFile(Topic, 3, baseOffset, ".index")));
            Assert.True(target.Device.FileExists(target.SegmentFile(Topic, 3, baseOffset, ".timeindex")));
            Assert.True(target.ReadFile(logFile).Length <= log.Config.SegmentBytes);
        }

        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), ConsumeAll(log).Select(r => r.Offset));
    }

    [Fact]
    public void A_batch_larger_than_segment_bytes_gets_a_segment_of_its_own()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default with { SegmentBytes = 100 });

        log.Append(Build("small", 1));
        log.Append(Build("big", 20));
        log.Append(Build("small", 1));

        Assert.Equal([0L, 1L, 21L], log.SegmentBaseOffsets);
        Assert.Equal(22, ConsumeAll(log).Count);
    }

    [Fact]
    public void Segments_roll_when_segment_ms_has_passed_since_their_first_append()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        using var manager = target.Open();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default with { SegmentMs = 60_000 });

        log.Append(Build("a", 1));
        target.Time.Advance(TimeSpan.FromSeconds(59));
        log.Append(Build("b", 1));
        Assert.Equal(1, log.SegmentCount);

        target.Time.Advance(TimeSpan.FromSeconds(1));
        log.Append(Build("c", 1));
        Assert.Equal([0L, 2L], log.SegmentBaseOffsets);

        // The new segment's clock starts at its own first append.
        target.Time.Advance(TimeSpan.FromSeconds(59));
        log.Append(Build("d", 1));
        Assert.Equal(2, log.SegmentCount);
    }

    [Theory]
    [InlineData(true, 2)]
    [InlineData(false, 1)]
    public void A_compacted_log_rolls_when_max_compaction_lag_ms_has_passed(bool compact, int segments)
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        using var manager = target.Open();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default with { SegmentMs = 600_000, Compact = compact, MaxCompactionLagMs = 60_000 });

        log.Append(Build("a", 1));
        target.Time.Advance(TimeSpan.FromSeconds(60));
        log.Append(Build("b", 1));

        Assert.Equal(segments, log.SegmentCount);
    }

    [Fact]
    public void An_idle_empty_segment_does_not_roll()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        using var manager = target.Open();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default with { SegmentMs = 1000 });

        target.Time.Advance(TimeSpan.FromHours(1));
        log.Append(Build("a", 1));

        Assert.Equal(1, log.SegmentCount);
    }

    /// <summary>Numbers written to disk are fixed forever: this pins Kafka's index entry layout.</summary>
    [Fact]
    public void Index_files_hold_big_endian_entries_in_kafkas_layout()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        using (var manager = target.Open())
        {
            var log = manager.GetOrCreate(Topic, 0, LogConfig.Default with { IndexIntervalBytes = 0 });
            log.Append(Build("a", 2, baseTimestampMs: 1000)); // offsets 0-1, timestamps 1000-1001
            log.Append(Build("b", 3, baseTimestampMs: 5000)); // offsets 2-4, timestamps 5000-5002
            log.Append(Build("c", 1, baseTimestampMs: 2000)); // offset 5, older timestamp: no time entry
        }

        var firstBatchBytes = Build("a", 2).Length;
        var secondBatchBytes = Build("b", 3).Length;
        var index = target.ReadFile(target.SegmentFile(Topic, 0, 0, ".index"));
        Assert.Equal(2 * OffsetIndex.EntryBytes, index.Length);

        // (relative last offset of the batch, byte position of the batch); the first batch needs no entry.
        Assert.Equal(4, BinaryPrimitives.ReadInt32BigEndian(index.AsSpan(0)));
        Assert.Equal(firstBatchBytes, BinaryPrimitives.ReadInt32BigEndian(index.AsSpan(4)));
        Assert.Equal(5, BinaryPrimitives.ReadInt32BigEndian(index.AsSpan(8)));
        Assert.Equal(firstBatchBytes + secondBatchBytes, BinaryPrimitives.ReadInt32BigEndian(index.AsSpan(12)));

        // (max timestamp so far, relative offset of the batch that reached it).
        var timeIndex = target.ReadFile(target.SegmentFile(Topic, 0, 0, ".timeindex"));
        Assert.Equal(TimeIndex.EntryBytes, timeIndex.Length);
        Assert.Equal(5002, BinaryPrimitives.ReadInt64BigEndian(timeIndex.AsSpan(0)));
        Assert.Equal(4, BinaryPrimitives.ReadInt32BigEndian(timeIndex.AsSpan(8)));
    }

    [Fact]
    public void Segment_file_names_are_the_base_offset_zero_padded_to_twenty_digits()
    {
        Assert.Equal(
            Path.Combine("/d", "00000000000000000042.log"),
            LogSegment.PathOf("/d", 42, LogSegment.LogSuffix));
        Assert.True(LogSegment.TryParseBaseOffset("00000000000001234567.timeindex", LogSegment.TimeIndexSuffix, out var parsed));
        Assert.Equal(1234567, parsed);
        Assert.False(LogSegment.TryParseBaseOffset("0000000000000000042.log", LogSegment.LogSuffix, out _));
        Assert.False(LogSegment.TryParseBaseOffset("0000000000000000004x.log", LogSegment.LogSuffix, out _));
    }

    internal static List<(long Offset, string Value)> ConsumeAll(PartitionLog log, int maxBytes = 300)
    {
        var records = new List<(long Offset, string Value)>();
        var position = log.LogStartOffset;
        for (var fetches = 0; position < log.HighWatermark; fetches++)
        {
            Assert.True(fetches < 100_000, "consumer made no progress");
            var read = log.Read(position, new LogReadOptions(maxBytes));
            Assert.Equal(LogReadStatus.Ok, read.Status);
            foreach (var record in ReadRecords(read.Records))
            {
                if (record.Offset >= position)
                {
                    records.Add(record);
                }
            }

            position = ReadHeaders(read.Records)[^1].NextOffset;
        }

        return records;
    }
}
