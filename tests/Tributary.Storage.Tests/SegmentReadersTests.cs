using Tributary.Storage.Devices;

namespace Tributary.Storage.Tests;

/// <summary>The readers of a segment file, as the page-cache drop that follows them sees them.</summary>
public sealed class SegmentReadersTests
{
    private long _now = 1_000;

    [Fact]
    public void With_no_reader_nothing_is_passed()
    {
        var readers = new SegmentReaders(() => _now);

        Assert.Equal(-1, readers.Passed());
    }

    [Fact]
    public void The_slowest_reader_seen_lately_decides_and_one_gone_idle_stops_counting()
    {
        var readers = new SegmentReaders(() => _now);
        readers.OnRead("c1", 5_000);
        readers.OnRead("c2", 3_000);
        Assert.Equal(3_000, readers.Passed());

        readers.OnRead("c2", 9_000); // the same reader moves on
        Assert.Equal(5_000, readers.Passed());
        readers.OnRead("c2", 1_000); // or goes back to re-read
        Assert.Equal(1_000, readers.Passed());

        _now += SegmentReaders.IdleMs - 1;
        readers.OnRead("c1", 6_000);
        Assert.Equal(1_000, readers.Passed()); // c2 read IdleMs - 1 ago: still a reader
        _now += 1;
        Assert.Equal(6_000, readers.Passed());
        _now += SegmentReaders.IdleMs;
        Assert.Equal(-1, readers.Passed());
    }

    [Fact]
    public void A_reader_beyond_the_limit_holds_everything_until_it_has_been_idle()
    {
        var readers = new SegmentReaders(() => _now);
        for (var i = 0; i < SegmentReaders.ReadersMax; i++)
        {
            readers.OnRead($"c{i}", 10_000 + i);
        }

        Assert.Equal(10_000, readers.Passed());
        readers.OnRead("one-too-many", 50_000);
        Assert.Equal(-1, readers.Passed());

        // The tracked ones keep reading; the untracked one stops: IdleMs after its last read the drop resumes.
        _now += SegmentReaders.IdleMs;
        for (var i = 0; i < SegmentReaders.ReadersMax; i++)
        {
            readers.OnRead($"c{i}", 20_000 + i);
        }

        Assert.Equal(20_000, readers.Passed());
    }

    [Fact]
    public void An_idle_reader_makes_room_for_a_new_one()
    {
        var readers = new SegmentReaders(() => _now);
        for (var i = 0; i < SegmentReaders.ReadersMax; i++)
        {
            readers.OnRead($"c{i}", 10_000 + i);
        }

        _now += SegmentReaders.IdleMs;
        readers.OnRead("newcomer", 7_000);

        Assert.Equal(7_000, readers.Passed());
    }

    [Fact]
    public void Truncation_forgets_every_position()
    {
        var readers = new SegmentReaders(() => _now);
        readers.OnRead("c1", 5_000);

        readers.OnTruncated();

        Assert.Equal(-1, readers.Passed());
        readers.OnRead("c1", 100);
        Assert.Equal(100, readers.Passed());
    }
}
