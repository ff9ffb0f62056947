using Tributary.Storage.Segments;

namespace Tributary.Storage.Tests;

/// <summary>The in-memory ring of the newest batches that spares tail fetches a read of each batch header.</summary>
public sealed class RecentBatchesTests
{
    // Batch i: offsets 10i..10i+9 (so 10i+5 is inside it), 1,000 bytes at position 1,000i.
    private static BatchPrefix Prefix(long i) => new(10 * i, 1_000, (10 * i) + 9, 1_700_000_000_000 + i);

    private static RecentBatches Filled(long batches)
    {
        var ring = new RecentBatches();
        for (long i = 0; i < batches; i++)
        {
            ring.Add(1_000 * i, Prefix(i));
        }

        return ring;
    }

    [Fact]
    public void Finds_the_batch_holding_an_offset_and_the_batch_at_a_position()
    {
        var ring = Filled(100);

        Assert.True(ring.TryFindByOffset(425, long.MaxValue, out var position, out var prefix));
        Assert.Equal((42_000L, Prefix(42)), (position, prefix));
        Assert.True(ring.TryFindByOffset(0, long.MaxValue, out position, out _));
        Assert.Equal(0, position);
        Assert.True(ring.TryFindAt(99_000, long.MaxValue, out prefix));
        Assert.Equal(Prefix(99), prefix);

        Assert.False(ring.TryFindByOffset(1_000, long.MaxValue, out _, out _)); // past the newest batch
        Assert.False(ring.TryFindAt(42_500, long.MaxValue, out _));             // not where a batch starts
        Assert.False(ring.TryFindAt(100_000, long.MaxValue, out _));
    }

    [Fact]
    public void A_batch_beyond_what_the_reader_may_see_is_not_found()
    {
        var ring = Filled(10);

        Assert.False(ring.TryFindByOffset(95, 9_999, out _, out _)); // batch 9 ends at 10,000
        Assert.True(ring.TryFindByOffset(95, 10_000, out _, out _));
        Assert.False(ring.TryFindAt(9_000, 9_999, out _));
    }

    [Fact]
    public void Once_the_ring_has_wrapped_the_newest_batches_but_the_slack_are_found()
    {
        var total = RecentBatches.Capacity + 50L;
        var ring = Filled(total);

        // The oldest slots are the next ones written, so readers leave them alone.
        var oldestUsable = total - RecentBatches.Capacity + RecentBatches.Slack;
        Assert.False(ring.TryFindByOffset(10 * (oldestUsable - 1), long.MaxValue, out _, out _));
        Assert.False(ring.TryFindAt(1_000 * (oldestUsable - 1), long.MaxValue, out _));
        Assert.True(ring.TryFindByOffset(10 * oldestUsable, long.MaxValue, out var position, out _));
        Assert.Equal(1_000 * oldestUsable, position);
        Assert.True(ring.TryFindAt(1_000 * (total - 1), long.MaxValue, out var prefix));
        Assert.Equal(Prefix(total - 1), prefix);
    }

    [Fact]
    public void An_empty_ring_finds_nothing()
    {
        var ring = new RecentBatches();

        Assert.False(ring.TryFindByOffset(0, long.MaxValue, out _, out _));
        Assert.False(ring.TryFindAt(0, long.MaxValue, out _));
    }

    [Fact]
    public void Readers_racing_the_appender_get_either_the_right_batch_or_nothing()
    {
        var ring = new RecentBatches();
        var appended = 0L;
        var wrong = 0L;
        var hits = 0L;
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        // Threads of their own: the thread pool of a 2-core machine may not start tasks within the half second.
        var readers = Enumerable.Range(0, 2).Select(_ => new Thread(() =>
        {
            var random = new Random();
            while (!stop.IsCancellationRequested)
            {
                var newest = Volatile.Read(ref appended) - 1;
                if (newest < 0)
                {
                    continue;
                }

                var i = Math.Max(0, newest - random.Next(RecentBatches.Capacity + 10));
                if (ring.TryFindByOffset((10 * i) + 5, long.MaxValue, out var position, out var prefix))
                {
                    Interlocked.Increment(ref hits);
                    if (position != 1_000 * i || prefix != Prefix(i))
                    {
                        Interlocked.Increment(ref wrong);
                    }
                }

                if (ring.TryFindAt(1_000 * i, long.MaxValue, out prefix) && prefix != Prefix(i))
                {
                    Interlocked.Increment(ref wrong);
                }
            }
        })).ToArray();
        foreach (var reader in readers)
        {
            reader.Start();
        }

        for (long i = 0; !stop.IsCancellationRequested; i++)
        {
            ring.Add(1_000 * i, Prefix(i));
            Volatile.Write(ref appended, i + 1);
            Thread.SpinWait(50); // an appender as fast as the readers, so that they also find what they look for
        }

        foreach (var reader in readers)
        {
            reader.Join();
        }

        Assert.Equal(0, wrong);
        Assert.True(hits > 0, $"the readers found batches while the appender ran");
    }
}
