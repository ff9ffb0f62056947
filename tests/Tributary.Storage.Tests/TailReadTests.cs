using Tributary.Storage.Segments;
using static Tributary.Storage.Tests.RecordBatchBuilder;

namespace Tributary.Storage.Tests;

/// <summary>
/// A fetch near the tail of the active segment finds its batches among the newest appended ones, without reading
/// their headers back from the file; elsewhere (a reopened log, a rolled segment) it reads them, with the same result.
/// </summary>
public sealed class TailReadTests
{
    private const string Topic = "tail";

    // 20 KiB batches: at least LogSegment.DeferredBatchBytesMin, so fetches leave their records in the file.
    private static byte[] Batch(int i) => Build([new byte[20 * 1024], Value($"batch-{i}")]);

    [Fact]
    public void A_fetch_at_the_tail_reads_nothing_from_the_file_until_its_records_are_sent()
    {
        var device = new RecordingDevice();
        using var manager = new LogManager(device, "/data", null, new ManualTimeProvider());
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        for (var i = 0; i < 20; i++)
        {
            log.Append(Batch(i));
        }

        var before = device.ReadAts;
        var read = log.Read(31, new LogReadOptions(1 << 20) { Buffers = new ReadBuffers() });
        Assert.Equal(before, device.ReadAts);

        Assert.IsType<SegmentRecords>(System.Runtime.InteropServices.MemoryMarshal.TryGetMemoryManager<byte, SegmentRecords>(read.Records, out var stored) ? stored : null);
        Assert.Equal(Enumerable.Range(30, 10).Select(o => (long)o), ReadRecords(read.Records).Select(r => r.Offset));
        Assert.Equal(log.Read(30, new LogReadOptions(1 << 20)).Records.ToArray(), read.Records.ToArray());
    }

    [Fact]
    public void A_reopened_log_and_a_rolled_segment_are_read_from_the_file_with_the_same_result()
    {
        var device = new RecordingDevice();
        var config = LogConfig.Default with { SegmentBytes = 10 * 21 * 1024 };
        byte[] expected;
        using (var manager = new LogManager(device, "/data", null, new ManualTimeProvider()))
        {
            var log = manager.GetOrCreate(Topic, 0, config);
            for (var i = 0; i < 20; i++)
            {
                log.Append(Batch(i));
            }

            Assert.True(log.SegmentBaseOffsets.Count > 1, "the log rolled");
            expected = log.Read(4, new LogReadOptions(1 << 20) { Buffers = new ReadBuffers() }).Records.ToArray();
            var before = device.ReadAts;
            var rolled = log.Read(4, new LogReadOptions(1 << 20) { Buffers = new ReadBuffers() });
            Assert.True(device.ReadAts > before, "a rolled segment's batches are found in its file");
            Assert.Equal(expected, rolled.Records.ToArray());
        }

        using var reopened = new LogManager(device, "/data", null, new ManualTimeProvider());
        var again = reopened.GetOrCreate(Topic, 0, config);
        var last = again.SegmentBaseOffsets[^1];
        var readsBefore = device.ReadAts;
        var tail = again.Read(last, new LogReadOptions(1 << 20) { Buffers = new ReadBuffers() });
        Assert.True(device.ReadAts > readsBefore, "a reopened segment's batches are found in its file");
        Assert.Equal(last, ReadRecords(tail.Records)[0].Offset);
        Assert.Equal(expected, again.Read(4, new LogReadOptions(1 << 20) { Buffers = new ReadBuffers() }).Records.ToArray());
    }
}
