namespace Tributary.Storage.Segments;

/// <summary>
/// Where the last <see cref="Capacity"/> batches appended to the active segment start, with their prefixes, so that a
/// fetch near the tail finds its batches without reading their headers back from the file: one pread per batch
/// otherwise, 8% of the broker's CPU in a paced produce with a tail consumer. One appender (the partition's append lock holder) and any number of concurrent readers, without locks: an
/// entry is written before the count that publishes it, and a reader that used entries checks afterwards that the
/// appender has not started reusing any of their slots (a sequence check on the count); if it has, or if the ring
/// does not hold what is asked, the reader reads the file as before.
/// </summary>
internal sealed class RecentBatches
{
    /// <summary>Batches remembered; a power of two. At 16 KiB or more a batch (the deferred read's minimum), 4 MiB of log.</summary>
    public const int Capacity = 256;

    /// <summary>
    /// Oldest entries a reader leaves alone, so that up to this many appends while it looks do not make it start over:
    /// the appender overwrites the oldest slot first.
    /// </summary>
    public const int Slack = 32;

    private readonly Entry[] _entries = new Entry[Capacity];
    private long _count;

    /// <summary>Appender only: the batch with <paramref name="prefix"/> starts at <paramref name="position"/>, after every batch added before.</summary>
    public void Add(long position, BatchPrefix prefix)
    {
        var count = _count;
        _entries[count & (Capacity - 1)] = new Entry(position, prefix);
        Volatile.Write(ref _count, count + 1);
    }

    /// <summary>
    /// The first batch whose last offset is at least <paramref name="offset"/>, when the ring holds it, the oldest batch
    /// it holds starts at or before <paramref name="offset"/> (so no older batch could be the one), and it ends within
    /// <paramref name="sizeBytes"/>.
    /// </summary>
    public bool TryFindByOffset(long offset, long sizeBytes, out long position, out BatchPrefix prefix)
    {
        var (first, last) = Window();
        if (first <= last && At(first).Prefix.BaseOffset <= offset)
        {
            // The first entry whose last offset reaches the offset: last offsets grow with the index.
            var (lo, hi) = (first, last + 1);
            while (lo < hi)
            {
                var mid = lo + ((hi - lo) / 2);
                if (At(mid).Prefix.LastOffset >= offset)
                {
                    hi = mid;
                }
                else
                {
                    lo = mid + 1;
                }
            }

            if (lo <= last && At(lo) is var found && found.Position + found.Prefix.TotalSize <= sizeBytes && Unchanged(first))
            {
                (position, prefix) = (found.Position, found.Prefix);
                return true;
            }
        }

        (position, prefix) = (0, default);
        return false;
    }

    /// <summary>The batch that starts at <paramref name="position"/>, when the ring holds it and it ends within <paramref name="sizeBytes"/>.</summary>
    public bool TryFindAt(long position, long sizeBytes, out BatchPrefix prefix)
    {
        var (first, last) = Window();
        var (lo, hi) = (first, last + 1);
        while (lo < hi)
        {
            var mid = lo + ((hi - lo) / 2);
            if (At(mid).Position >= position)
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }

        if (lo <= last && At(lo) is var found && found.Position == position && position + found.Prefix.TotalSize <= sizeBytes && Unchanged(first))
        {
            prefix = found.Prefix;
            return true;
        }

        prefix = default;
        return false;
    }

    /// <summary>The indexes a reader may use: all but the <see cref="Slack"/> oldest, which the next appends reuse.</summary>
    private (long First, long Last) Window()
    {
        var count = Volatile.Read(ref _count);
        return (Math.Max(0, count - Capacity + Slack), count - 1);
    }

    private Entry At(long index) => _entries[index & (Capacity - 1)];

    /// <summary>
    /// Whether every slot from index <paramref name="first"/> on still held what the reader read: the appender has not
    /// begun the entry that reuses its slot (index + <see cref="Capacity"/>, written while the count stands there).
    /// </summary>
    private bool Unchanged(long first)
    {
        Interlocked.MemoryBarrier(); // the entries' reads complete before the count is read again
        return Volatile.Read(ref _count) < first + Capacity;
    }

    private readonly record struct Entry(long Position, BatchPrefix Prefix);
}
