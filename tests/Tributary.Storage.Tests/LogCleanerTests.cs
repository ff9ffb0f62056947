using System.Buffers;
using System.Text;
using Tributary.Protocol.Records;
using Tributary.Storage.Cleaning;
using Tributary.Storage.Devices;
using KeyedBatch = Tributary.Protocol.Records.RecordBatchBuilder;

namespace Tributary.Storage.Tests;

/// <summary>
/// Log compaction as a consumer reading from offset 0 sees it: the latest record per key with its original offset,
/// tombstones gone after delete.retention.ms, the active segment and young records untouched, and a crash at any
/// step of a segment swap recovering to the old segments or the new ones.
/// </summary>
public sealed partial class LogCleanerTests
{
    private const string Topic = "table";

    private static readonly LogConfig Compacted = LogConfig.Default with
    {
        Compact = true,
        Delete = false,
        SegmentBytes = 400,
        MinCleanableDirtyRatio = 0.01,
    };

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void Cleaning_keeps_the_latest_record_per_key_at_its_original_offset_and_leaves_the_active_segment(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        using var manager = target.Open(Compacted);
        var log = manager.GetOrCreate(Topic, 0, Compacted);
        for (var i = 0; i < 60; i++)
        {
            log.Append(Keyed(target.Time.NowMs, ($"k{i % 5}", $"v{i}")));
        }

        var before = ConsumeAll(log);
        var activeBase = log.SegmentBaseOffsets[^1];
        var segmentsBefore = log.SegmentCount;
        var sizeBefore = log.SizeBytes;
        log.UpdateConfig(Compacted with { SegmentBytes = 1200 }); // cleaned segments merge up to this

        var result = new LogCleaner(manager).CleanDirtiest();

        Assert.NotNull(result);
        var after = ConsumeAll(log);
        var latestBelowActive = before.Where(r => r.Offset < activeBase).GroupBy(r => r.Key).Select(g => g.Max(r => r.Offset)).ToHashSet();
        var expected = before.Where(r => r.Offset >= activeBase || latestBelowActive.Contains(r.Offset)).ToList();
        Assert.Equal(expected, after);
        Assert.Equal(60, log.LogEndOffset);
        Assert.True(log.SizeBytes < sizeBefore);
        Assert.True(log.SegmentCount < segmentsBefore, "small cleaned segments are merged");
        Assert.Equal(activeBase, log.SegmentBaseOffsets[^1]);
        Assert.Equal(before.Count - after.Count, result.RecordsRemoved);

        // Nothing new is dirty: a second pass has nothing to do.
        Assert.Null(new LogCleaner(manager).CleanDirtiest());

        // The cleaned segments are the log's from now on: a restart reads the same records.
        manager.Dispose();
        using var reopened = target.Open(Compacted);
        Assert.True(reopened.TryGet(Topic, 0, out var again));
        Assert.Equal(expected, ConsumeAll(again));
        Assert.DoesNotContain(target.Device.ListFiles(target.PartitionDirectory(Topic, 0)), f => !f.EndsWith(".log", StringComparison.Ordinal)
            && !f.EndsWith(".index", StringComparison.Ordinal) && !f.EndsWith(".timeindex", StringComparison.Ordinal) && !f.EndsWith(".checkpoint", StringComparison.Ordinal)
            && !f.EndsWith(".snapshot", StringComparison.Ordinal));
    }

    [Fact]
    public void A_compressed_batch_is_rewritten_with_its_codec_and_its_offsets()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        using var manager = target.Open(Compacted);
        var log = manager.GetOrCreate(Topic, 0, Compacted);
        log.Append(Keyed(target.Time.NowMs, CompressionType.Gzip, ("a", "1"), ("b", "2"), ("a", "3"), ("c", "4")));
        log.Append(Keyed(target.Time.NowMs, ("c", "5")));
        RollPast(log, target);

        Assert.NotNull(new LogCleaner(manager).CleanDirtiest());

        var stored = log.Read(0, new LogReadOptions(1 << 20)).Records;
        var first = RecordBatchHeader.Read(stored.Span);
        Assert.Equal(CompressionType.Gzip, first.Compression);
        Assert.Equal(0, first.BaseOffset);
        Assert.Equal(3, first.LastOffsetDelta);
        Assert.Equal(2, first.RecordCount);
        Assert.Equal([(1L, "b", "2"), (2L, "a", "3"), (4L, "c", "5")], ConsumeAll(log).Where(r => r.Offset <= 4).Select(r => (r.Offset, r.Key, r.Value)));
    }

    [Fact]
    public void Tombstones_are_kept_for_delete_retention_ms_after_their_first_clean_then_dropped()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        var config = Compacted with { DeleteRetentionMs = 60_000 };
        using var manager = target.Open(config);
        var log = manager.GetOrCreate(Topic, 0, config);
        log.Append(Keyed(target.Time.NowMs, ("a", "1"), ("b", "1")));
        log.Append(Keyed(target.Time.NowMs, ("a", null)));
        RollPast(log, target);

        Assert.NotNull(Clean(log));
        Assert.Equal([(1L, "b", "1"), (2L, "a", null)], ConsumeAll(log).Where(r => r.Offset <= 2).Select(r => (r.Offset, r.Key, r.Value)));

        // Within delete.retention.ms the tombstone survives further cleans.
        target.Time.Advance(TimeSpan.FromSeconds(59));
        RollPast(log, target);
        Clean(log);
        Assert.Contains(ConsumeAll(log), r => r is { Offset: 2, Key: "a", Value: null });

        target.Time.Advance(TimeSpan.FromSeconds(2));
        RollPast(log, target);
        Assert.NotNull(Clean(log));
        var after = ConsumeAll(log);
        Assert.DoesNotContain(after, r => r.Key == "a");
        Assert.Contains(after, r => r is { Offset: 1, Key: "b", Value: "1" });
    }

    [Fact]
    public void Records_younger_than_min_compaction_lag_are_not_cleaned()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        var config = Compacted with { MinCompactionLagMs = 60_000 };
        using var manager = target.Open(config);
        var log = manager.GetOrCreate(Topic, 0, config);
        for (var i = 0; i < 30; i++)
        {
            log.Append(Keyed(target.Time.NowMs, ("k", $"v{i}")));
        }

        var before = ConsumeAll(log);
        Assert.True(log.SegmentCount > 2);

        target.Time.Advance(TimeSpan.FromSeconds(59));
        Assert.Null(new LogCleaner(manager).CleanDirtiest());
        Assert.Equal(before, ConsumeAll(log));

        target.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.NotNull(new LogCleaner(manager).CleanDirtiest());
        Assert.True(ConsumeAll(log).Count < before.Count);
    }

    [Fact]
    public void A_log_whose_only_segment_is_active_or_that_is_not_compacted_is_never_cleaned()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        using var manager = target.Open(Compacted);
        var active = manager.GetOrCreate(Topic, 0, Compacted with { SegmentBytes = 1 << 20 });
        var deleteOnly = manager.GetOrCreate(Topic, 1, Compacted with { Compact = false, Delete = true });
        for (var i = 0; i < 30; i++)
        {
            active.Append(Keyed(target.Time.NowMs, ("k", $"v{i}")));
            deleteOnly.Append(Keyed(target.Time.NowMs, ("k", $"v{i}")));
        }

        Assert.Null(new LogCleaner(manager).CleanDirtiest());
        Assert.Equal(30, ConsumeAll(active).Count);
        Assert.Equal(30, ConsumeAll(deleteOnly).Count);
        Assert.Null(deleteOnly.GetCleanableRange());
    }

    [Fact]
    public void An_idempotent_producers_last_batch_is_kept_empty_when_all_its_records_go()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        using var manager = target.Open(Compacted);
        var log = manager.GetOrCreate(Topic, 0, Compacted);
        var fromProducer = new KeyedBatch { ProducerId = 7, ProducerEpoch = 0, BaseSequence = 0 }
            .Add(target.Time.NowMs, Encoding.UTF8.GetBytes("x"), Encoding.UTF8.GetBytes("old")).Build();
        Assert.Equal(Protocol.ErrorCode.None, log.AppendChecked(fromProducer).Error);
        log.Append(Keyed(target.Time.NowMs, ("x", "new")));
        RollPast(log, target);

        Assert.NotNull(Clean(log));

        var headers = ReadHeaders(log);
        Assert.Equal(0, headers[0].BaseOffset);
        Assert.Equal(7, headers[0].ProducerId);
        Assert.Equal(0, headers[0].RecordCount);
        Assert.Equal([(1L, "x", "new")], ConsumeAll(log).Where(r => r.Offset <= 1).Select(r => (r.Offset, r.Key, r.Value)));
    }

    [Fact]
    public void Transactional_batches_and_everything_past_the_last_stable_offset_stay_as_they_are()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        using var manager = target.Open(Compacted);
        var log = manager.GetOrCreate(Topic, 0, Compacted);
        log.Append(Keyed(target.Time.NowMs, ("k", "plain-1")));
        var transactional = new KeyedBatch { ProducerId = 9, ProducerEpoch = 0, BaseSequence = 0, IsTransactional = true }
            .Add(target.Time.NowMs, Encoding.UTF8.GetBytes("k"), Encoding.UTF8.GetBytes("in-txn")).Build();
        Assert.Equal(Protocol.ErrorCode.None, log.AppendChecked(transactional).Error);
        for (var i = 0; i < 20; i++)
        {
            log.Append(Keyed(target.Time.NowMs, ("k", $"plain-{i + 2}")));
        }

        var before = ConsumeAll(log);
        Assert.Equal(1, log.LastStableOffset); // the open transaction starts at offset 1

        // Only segments wholly below the last stable offset are cleanable: none here.
        Assert.Null(Clean(log));
        Assert.Equal(before, ConsumeAll(log));
    }

    [Fact]
    public void Aborted_records_go_committed_ones_are_compacted_and_an_empty_marker_goes_after_delete_retention_ms()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        var config = Compacted with { DeleteRetentionMs = 60_000 };
        using var manager = target.Open(config);
        var log = manager.GetOrCreate(Topic, 0, config);
        var now = target.Time.NowMs;
        log.Append(Transactional(9, 0, now, ("a", "aborted")));                         // 0
        log.Append(Marker(9, ControlRecordType.Abort, now));                            // 1
        log.Append(Transactional(9, 1, now, ("b", "committed")));                       // 2
        log.Append(Marker(9, ControlRecordType.Commit, now));                           // 3
        log.Append(Keyed(now, ("a", "plain")));                                         // 4
        RollPast(log, target);

        Assert.NotNull(Clean(log));

        // The aborted batch is gone; its marker stays (with a delete horizon); the committed record and its marker stay.
        var headers = ReadHeaders(log).Where(h => h.BaseOffset <= 4).ToList();
        Assert.Equal([1L, 2L, 3L, 4L], headers.Select(h => h.BaseOffset));
        Assert.Equal([(2L, "b", "committed"), (4L, "a", "plain")], DataRecords(log).Where(r => r.Offset <= 4).Select(r => (r.Offset, r.Key, r.Value)));
        Assert.Equal(RecordBatchHeader.DeleteHorizonFlag, headers[0].Attributes & RecordBatchHeader.DeleteHorizonFlag);
        Assert.Equal(0, headers[2].Attributes & RecordBatchHeader.DeleteHorizonFlag);

        target.Time.Advance(TimeSpan.FromSeconds(61));
        RollPast(log, target);
        Assert.NotNull(Clean(log));
        Assert.Equal([2L, 3L, 4L], ReadHeaders(log).Where(h => h.BaseOffset <= 4).Select(h => h.BaseOffset));
    }

    [Fact]
    public void A_crash_at_any_step_of_a_swap_recovers_to_the_old_or_the_new_segments()
    {
        // A fault-free run: how many file operations a clean makes and what it leaves.
        List<Consumed> original;
        List<Consumed> cleaned;
        int operations;
        {
            var counting = new FaultingDevice(new MemoryLogDevice());
            using var manager = new LogManager(counting, "/data", Compacted);
            var log = FillForSwap(manager);
            original = ConsumeAll(log);
            counting.Arm(int.MaxValue);
            Assert.NotNull(Clean(log));
            operations = counting.Operations;
            cleaned = ConsumeAll(log);
        }

        Assert.True(operations > 5, $"a swap takes several file operations, counted {operations}");
        for (var failAt = 1; failAt <= operations; failAt++)
        {
            var memory = new MemoryLogDevice();
            var faulting = new FaultingDevice(memory);
            var manager = new LogManager(faulting, "/data", Compacted);
            var log = FillForSwap(manager);
            faulting.Arm(failAt);
            Assert.ThrowsAny<IOException>(() => Clean(log));
            StorageTarget.Crash(manager);

            using var reopened = new LogManager(memory, "/data", Compacted);
            Assert.True(reopened.TryGet(Topic, 0, out var recovered));
            var records = ConsumeAll(recovered);
            Assert.True(records.SequenceEqual(original) || records.SequenceEqual(cleaned), $"failure at operation {failAt}: a mix of old and new segments");
            Assert.DoesNotContain(memory.ListFiles("/data/table-0"), f => f.EndsWith(".cleaned", StringComparison.Ordinal) || f.Contains(".swap", StringComparison.Ordinal));
            Assert.Equal(original[^1].Offset + 1, recovered.LogEndOffset);
        }
    }

    private static PartitionLog FillForSwap(LogManager manager)
    {
        var log = manager.GetOrCreate(Topic, 0, Compacted);
        for (var i = 0; i < 40; i++)
        {
            log.Append(Keyed(1_700_000_000_000, ($"k{i % 3}", $"v{i}")));
        }

        // One group: the whole clean is one swap, so the log after it is all old or all new.
        log.UpdateConfig(Compacted with { SegmentBytes = 1 << 20 });
        return log;
    }

    private static CleanResult? Clean(PartitionLog log) => log.Clean(new OffsetMap(1 << 20), new CleanerThrottle(double.MaxValue));

    /// <summary>Appends one record per batch until the active segment rolls, so what came before is cleanable.</summary>
    private static void RollPast(PartitionLog log, StorageTarget target)
    {
        var segments = log.SegmentCount;
        for (var i = 0; log.SegmentCount == segments; i++)
        {
            log.Append(Keyed(target.Time.NowMs, ($"filler-{log.LogEndOffset}", "f")));
        }
    }

    private static byte[] Transactional(long producerId, int sequence, long timestampMs, params (string Key, string Value)[] records)
    {
        var builder = new KeyedBatch { ProducerId = producerId, ProducerEpoch = 0, BaseSequence = sequence, IsTransactional = true };
        foreach (var (key, value) in records)
        {
            builder.Add(timestampMs, Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(value));
        }

        return builder.Build();
    }

    private static byte[] Marker(long producerId, ControlRecordType type, long timestampMs) =>
        KeyedBatch.BuildEndTransactionMarker(new EndTransactionMarker(type, 0), producerId, 0, timestampMs);

    /// <summary>The records of data batches (control batches left out), as a read_uncommitted consumer sees them.</summary>
    private static List<Consumed> DataRecords(PartitionLog log)
    {
        var data = new List<byte>();
        for (ReadOnlyMemory<byte> remaining = ReadAllStored(log); !remaining.IsEmpty;)
        {
            var header = RecordBatchHeader.Read(remaining.Span);
            if (!header.IsControl)
            {
                data.AddRange(remaining[..header.TotalSize].ToArray());
            }

            remaining = remaining[header.TotalSize..];
        }

        return Decode(data.ToArray());
    }

    private static byte[] Keyed(long timestampMs, params (string Key, string? Value)[] records) => Keyed(timestampMs, CompressionType.None, records);

    private static byte[] Keyed(long timestampMs, CompressionType compression, params (string Key, string? Value)[] records)
    {
        var builder = new KeyedBatch { Compression = compression };
        foreach (var (key, value) in records)
        {
            builder.Add(timestampMs, Encoding.UTF8.GetBytes(key), value is null ? null : Encoding.UTF8.GetBytes(value));
        }

        return builder.Build();
    }

    internal readonly record struct Consumed(long Offset, string Key, string? Value);

    /// <summary>Every record a consumer reading from the log start sees, in order.</summary>
    internal static List<Consumed> ConsumeAll(PartitionLog log)
    {
        var result = new List<Consumed>();
        var offset = log.LogStartOffset;
        while (offset < log.HighWatermark)
        {
            var read = log.Read(offset, new LogReadOptions(1 << 20));
            if (read.Records.IsEmpty)
            {
                break;
            }

            result.AddRange(Decode(read.Records).Where(r => r.Offset >= offset));
            offset = RecordBatchBuilder.ReadHeaders(read.Records)[^1].NextOffset;
        }

        return result;
    }

    private static List<RecordBatchHeader> ReadHeaders(PartitionLog log) => RecordBatchBuilder.ReadHeaders(ReadAllStored(log));

    /// <summary>Every stored batch from the log start, across segments (one read stays within a segment).</summary>
    private static byte[] ReadAllStored(PartitionLog log)
    {
        var stored = new List<byte>();
        var offset = log.LogStartOffset;
        while (offset < log.HighWatermark)
        {
            var read = log.Read(offset, new LogReadOptions(1 << 20));
            if (read.Records.IsEmpty)
            {
                break;
            }

            stored.AddRange(read.Records.ToArray());
            offset = RecordBatchBuilder.ReadHeaders(read.Records)[^1].NextOffset;
        }

        return [.. stored];
    }

    private static List<Consumed> Decode(ReadOnlyMemory<byte> stored)
    {
        var result = new List<Consumed>();
        var scratch = new ArrayBufferWriter<byte>();
        for (var remaining = stored; !remaining.IsEmpty;)
        {
            var batch = RecordBatch.Read(remaining);
            Assert.True(batch.IsCrcValid);
            remaining = remaining[batch.Header.TotalSize..];
            var records = batch.Header.Compression == CompressionType.None ? batch.Records : batch.DecompressRecords(scratch, 1 << 20);
            foreach (var record in records)
            {
                result.Add(new Consumed(
                    batch.Header.BaseOffset + record.OffsetDelta,
                    Encoding.UTF8.GetString(record.Key!.Value.Span),
                    record.Value is { } value ? Encoding.UTF8.GetString(value.Span) : null));
            }
        }

        return result;
    }

    /// <summary>A memory device whose renames and deletions fail from the armed one on, as a crash would stop them.</summary>
    private sealed class FaultingDevice(ILogDevice inner) : DelegatingDevice(inner)
    {
        private int _failAt = int.MaxValue;

        public int Operations { get; private set; }

        public void Arm(int failAt)
        {
            _failAt = failAt;
            Operations = 0;
        }

        public override void DeleteFile(string path)
        {
            Step();
            base.DeleteFile(path);
        }

        public override void ReplaceFile(string sourcePath, string destinationPath)
        {
            Step();
            base.ReplaceFile(sourcePath, destinationPath);
        }

        public override ILogFile OpenFile(string path)
        {
            Step();
            return base.OpenFile(path);
        }

        private void Step()
        {
            Operations++;
            if (Operations >= _failAt)
            {
                throw new IOException($"injected failure at file operation {Operations}");
            }
        }
    }
}
