using Tributary.Storage.Devices;
using static Tributary.Storage.Tests.RecordBatchBuilder;

namespace Tributary.Storage.Tests;

/// <summary>
/// A fetch tells the partition's segment files where its reader is, which the page-cache drop that follows readers
/// uses; checked with a device that records what its files are told.
/// </summary>
public sealed class ReaderNoteTests
{
    [Fact]
    public void A_fetch_notes_its_reader_where_its_bytes_start_in_the_active_segment_or_at_its_start_when_in_an_older_one()
    {
        var device = new RecordingDevice();
        using var manager = new LogManager(device, "/data", null, new ManualTimeProvider());
        var batch = Build("x", 2);
        var log = manager.GetOrCreate("events", 0, LogConfig.Default with { SegmentBytes = (batch.Length * 3) + 10 });
        for (var i = 0; i < 5; i++)
        {
            log.Append(batch.ToArray());
        }

        // Three batches per segment: offsets 0-5 and 6-9, the second one active.
        Assert.Equal([0L, 6L], log.SegmentBaseOffsets);
        const string Active = "/data/events-0/00000000000000000006.log";

        log.Read(2, new LogReadOptions(1 << 20) { Reader = "c1" });
        Assert.Equal([(Active, "c1", 0)], device.Notes); // the old segment drops nothing, so is not told

        device.Notes.Clear();
        log.Read(8, new LogReadOptions(1 << 20) { Reader = "c2" });
        Assert.Equal([(Active, "c2", batch.Length)], device.Notes);

        // Nothing returned, or no reader named: nothing noted.
        device.Notes.Clear();
        log.Read(10, new LogReadOptions(1 << 20) { Reader = "c2" });
        log.Read(0, new LogReadOptions(1 << 20));
        Assert.Empty(device.Notes);
    }
}
