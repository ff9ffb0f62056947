using System.Runtime.InteropServices;
using Tributary.Protocol.Records;
using static Tributary.Storage.Tests.RecordBatchBuilder;

namespace Tributary.Storage.Tests;

/// <summary>Append and fetch as a producer and a consumer see them.</summary>
public sealed class PartitionLogTests
{
    private const string Topic = "orders";

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void Appended_records_are_read_back_byte_for_byte_with_their_offsets(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        using var manager = target.Open();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        var sent = Concat(Build("a", 2), Build("b", 1));

        var result = log.Append(sent.ToArray());

        Assert.Equal(new LogAppendResult(0, 2, -1, 0), result);
        var read = log.Read(0, new LogReadOptions(1 << 20));
        Assert.Equal(LogReadStatus.Ok, read.Status);
        Assert.Equal(3, read.HighWatermark);
        Assert.Equal(
            [(0L, "a-0"), (1L, "a-1"), (2L, "b-0")],
            ReadRecords(read.Records));

        // Stored verbatim: only the base offsets (outside the CRC) differ from what the producer sent.
        var expected = sent.ToArray();
        RecordBatchHeader.WriteBaseOffset(expected.AsSpan(Build("a", 2).Length), 2);
        Assert.Equal(expected, read.Records.ToArray());
    }

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void A_read_into_pooled_buffers_returns_the_same_bytes_and_its_arrays_go_back_to_the_pool_on_release(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        using var manager = target.Open();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.Append(Concat(Build("a", 50), Build("b", 30)));
        var plain = log.Read(0, new LogReadOptions(1 << 20)).Records.ToArray();
        var buffers = new ReadBuffers();

        var pooled = log.Read(0, new LogReadOptions(1 << 20) { Buffers = buffers });

        Assert.Equal(plain, pooled.Records.ToArray());
        Assert.True(MemoryMarshal.TryGetArray(pooled.Records, out var first));
        buffers.Release();

        // Returned to ArrayPool.Shared: the next rent of that size on this thread gets the same array back (scribbled
        // on here while it sits in the pool), and the read into it carries exactly the stored bytes again.
        first.Array!.AsSpan().Fill(0xEE);
        var again = log.Read(0, new LogReadOptions(1 << 20) { Buffers = buffers });
        Assert.True(MemoryMarshal.TryGetArray(again.Records, out var second));
        Assert.Same(first.Array, second.Array);
        Assert.Equal(plain, again.Records.ToArray());
        buffers.Release();
    }

    [Fact]
    public void Offsets_are_consecutive_across_batches_and_appends()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);

        var first = log.Append(Concat(Build("a", 3), Build("b", 1)));
        var second = log.Append(Build("c", 5));

        Assert.Equal((0, 3), (first.FirstOffset, first.LastOffset));
        Assert.Equal((4, 8), (second.FirstOffset, second.LastOffset));
        Assert.Equal(9, log.LogEndOffset);
        Assert.Equal(9, log.HighWatermark);
        var headers = ReadHeaders(log.Read(0, new LogReadOptions(1 << 20)).Records);
        Assert.Equal([0L, 3L, 4L], headers.Select(h => h.BaseOffset));
        Assert.Equal(Enumerable.Range(0, 9).Select(i => (long)i), ReadRecords(log.Read(0, new LogReadOptions(1 << 20)).Records).Select(r => r.Offset));
    }

    [Fact]
    public void Fetch_from_the_middle_of_a_batch_returns_the_whole_containing_batch()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.Append(Build("a", 3));
        log.Append(Build("b", 4));

        var read = log.Read(5, new LogReadOptions(1 << 20));

        var headers = ReadHeaders(read.Records);
        Assert.Equal(3, headers[0].BaseOffset);
        Assert.Equal(6, headers[0].LastOffset);
        Assert.Single(headers);
    }

    [Fact]
    public void Max_bytes_limits_whole_batches_but_a_first_batch_larger_than_it_is_still_returned()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        var batch = Build("x", 3);
        for (var i = 0; i < 5; i++)
        {
            log.Append(batch.ToArray());
        }

        // Room for two batches and a half: two whole batches, never a partial one.
        Assert.Equal(2, ReadHeaders(log.Read(0, new LogReadOptions((batch.Length * 5) / 2)).Records).Count);

        // KIP-74: a consumer whose max bytes is smaller than a batch still makes progress.
        Assert.Single(ReadHeaders(log.Read(0, new LogReadOptions(10)).Records));
        Assert.Single(ReadHeaders(log.Read(0, new LogReadOptions(0)).Records));

        // Without minOneBatch (not the first partition of a fetch) a too-small budget gives nothing.
        var none = log.Read(0, new LogReadOptions(10) { MinOneBatch = false });
        Assert.Equal(LogReadStatus.Ok, none.Status);
        Assert.True(none.Records.IsEmpty);
    }

    [Fact]
    public void Offsets_outside_the_log_are_out_of_range_and_the_log_end_offset_is_an_empty_fetch()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.Append(Build("a", 4));
        log.DeleteRecordsBefore(2);

        Assert.Equal(LogReadStatus.OffsetOutOfRange, log.Read(1, new LogReadOptions(1000)).Status);
        Assert.Equal(LogReadStatus.OffsetOutOfRange, log.Read(5, new LogReadOptions(1000)).Status);
        Assert.Equal(LogReadStatus.OffsetOutOfRange, log.Read(-1, new LogReadOptions(1000)).Status);

        var atEnd = log.Read(4, new LogReadOptions(1000));
        Assert.Equal(LogReadStatus.Ok, atEnd.Status);
        Assert.True(atEnd.Records.IsEmpty);
        Assert.Equal((4L, 2L), (atEnd.HighWatermark, atEnd.LogStartOffset));

        var atStart = log.Read(2, new LogReadOptions(1000));
        Assert.Equal(LogReadStatus.Ok, atStart.Status);
        Assert.Equal(0, ReadHeaders(atStart.Records)[0].BaseOffset);
    }

    [Fact]
    public void Timestamp_lookup_finds_the_first_batch_at_or_after_the_time()
    {
        using var manager = LogManager.InMemory();
        var config = LogConfig.Default with { IndexIntervalBytes = 0, SegmentBytes = 400 };
        var log = manager.GetOrCreate(Topic, 0, config);
        for (var i = 0; i < 20; i++)
        {
            // Batch i covers timestamps 1000*i .. 1000*i+1; offsets 2i and 2i+1.
            log.Append(Build($"t{i}", 2, baseTimestampMs: 1000 * i));
        }

        Assert.True(log.SegmentCount > 2, "the lookup should cross segments");
        Assert.Equal(0, log.FirstOffsetAtOrAfterTimestamp(-5));
        Assert.Equal(0, log.FirstOffsetAtOrAfterTimestamp(1));
        Assert.Equal(2, log.FirstOffsetAtOrAfterTimestamp(2));
        Assert.Equal(14, log.FirstOffsetAtOrAfterTimestamp(6500));
        Assert.Equal(38, log.FirstOffsetAtOrAfterTimestamp(19_001));
        Assert.Null(log.FirstOffsetAtOrAfterTimestamp(19_002));
        Assert.Equal((38L, 19_001L), log.MaxTimestamp());

        // Never before the log start offset.
        log.DeleteRecordsBefore(15);
        Assert.Equal(15, log.FirstOffsetAtOrAfterTimestamp(0));
    }

    [Fact]
    public void Max_timestamp_of_an_empty_log_is_unknown()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);

        Assert.Equal((-1L, -1L), log.MaxTimestamp());
        Assert.Null(log.FirstOffsetAtOrAfterTimestamp(0));
    }

    [Fact]
    public void Log_append_time_replaces_the_max_timestamp_and_keeps_the_crc_valid()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        const long brokerTimeMs = 1_800_000_000_000;

        var result = log.Append(Concat(Build("a", 2, baseTimestampMs: 5), Build("b", 1, baseTimestampMs: 7)), brokerTimeMs);

        Assert.Equal(brokerTimeMs, result.LogAppendTimeMs);
        var headers = ReadHeaders(log.Read(0, new LogReadOptions(1 << 20)).Records); // checks every CRC
        Assert.All(headers, h =>
        {
            Assert.True(h.IsLogAppendTime);
            Assert.Equal(brokerTimeMs, h.MaxTimestamp);
        });
        Assert.Equal(0, log.FirstOffsetAtOrAfterTimestamp(brokerTimeMs));
    }

    [Fact]
    public void Appended_event_fires_after_the_records_are_readable()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        var seenHighWatermarks = new List<long>();
        log.Appended += l => seenHighWatermarks.Add(l.Read(0, new LogReadOptions(1 << 20)).HighWatermark);

        log.Append(Build("a", 2));
        log.Append(Build("b", 1));

        Assert.Equal([2L, 3L], seenHighWatermarks);
    }

    [Fact]
    public void A_batch_cut_short_is_refused_and_leaves_the_log_unchanged()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        var batch = Build("a", 2);

        Assert.Throws<ArgumentException>(() => log.Append(batch.AsMemory(0, batch.Length - 1)));

        Assert.Equal(0, log.LogEndOffset);
        Assert.Equal(0, log.Append(batch).FirstOffset);
    }
    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void A_fetch_read_of_large_batches_leaves_whole_batches_in_the_segment_until_they_are_copied(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        using var manager = target.Open();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        var value = new string('v', 1000);
        var batch = Build(Enumerable.Range(0, 40).Select(i => Value($"{i:D4}{value}")).ToArray());
        Assert.True(batch.Length >= Segments.LogSegment.DeferredBatchBytesMin);
        log.Append(batch);
        log.Append(batch);
        log.Append(batch);
        var plain = log.Read(0, new LogReadOptions(1 << 20)).Records.ToArray();
        var buffers = new ReadBuffers();

        var read = log.Read(0, new LogReadOptions(1 << 20) { Buffers = buffers });

        Assert.True(MemoryMarshal.TryGetMemoryManager<byte, Segments.SegmentRecords>(read.Records, out var stored));
        Assert.Equal((3 * batch.Length, 120L), (stored.Length, stored.NextOffset));
        var copied = new byte[stored.Length];
        stored.CopyTo(0, copied.AsSpan(0, 1000));
        stored.CopyTo(1000, copied.AsSpan(1000));
        Assert.False(stored.IsMaterialized);
        Assert.Equal(plain, copied);

        // Cut to whole batches by max bytes, and by the offset limit (the last stable offset of read_committed).
        var cut = log.Read(0, new LogReadOptions((int)(batch.Length * 2.5)) { Buffers = buffers });
        Assert.True(MemoryMarshal.TryGetMemoryManager<byte, Segments.SegmentRecords>(cut.Records, out var two));
        Assert.Equal((2 * batch.Length, 80L), (two.Length, two.NextOffset));
        Assert.Equal(plain.AsSpan(0, 2 * batch.Length).ToArray(), cut.Records.ToArray());
        var limited = log.Read(40, new LogReadOptions(1 << 20) { MaxOffset = 80, Buffers = buffers });
        Assert.Equal([40L], ReadHeaders(limited.Records).Select(h => h.BaseOffset));

        // Small batches are read at once, as before.
        var small = manager.GetOrCreate(Topic, 1, LogConfig.Default);
        small.Append(Concat(Build("a", 3), Build("b", 2)));
        Assert.True(MemoryMarshal.TryGetArray(small.Read(0, new LogReadOptions(1 << 20) { Buffers = buffers }).Records, out _));
        buffers.Release();
    }

    [Fact]
    public void Deferred_records_whose_segment_was_closed_fail_to_copy_with_an_io_error()
    {
        using var target = new StorageTarget(DeviceKind.File);
        var manager = target.Open();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.Append(Build(Enumerable.Range(0, 40).Select(i => Value(new string('x', 1000))).ToArray()));
        var read = log.Read(0, new LogReadOptions(1 << 20) { Buffers = new ReadBuffers() });
        Assert.True(MemoryMarshal.TryGetMemoryManager<byte, Segments.SegmentRecords>(read.Records, out var stored));

        manager.Dispose();

        Assert.Throws<IOException>(() => stored.CopyTo(0, new byte[100]));
    }
}
