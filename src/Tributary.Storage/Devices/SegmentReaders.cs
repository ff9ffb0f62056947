namespace Tributary.Storage.Devices;

/// <summary>
/// Where each reader of one segment file fetched from last, for the page-cache drop that follows the readers
/// (<see cref="WritebackSchedule.DropBehind"/>). A reader is a connection; its position is the start of the bytes it
/// last fetched from this file (0 when it fetched from an older segment of the partition). <see cref="Passed"/> is the
/// position every reader seen in the last <see cref="IdleMs"/> has fetched from, so none of them needs the bytes
/// before it again. Thread-safe: fetches note their reads on their connections' threads and the write-out thread asks.
/// </summary>
internal sealed class SegmentReaders(Func<long> nowMs)
{
    /// <summary>Readers tracked per file; while one more than this is reading, nothing is dropped.</summary>
    public const int ReadersMax = 256;

    /// <summary>Milliseconds after its last fetch from the file that a reader stops holding its pages.</summary>
    public const long IdleMs = 10_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, (long Position, long SeenMs)> _readers = new(StringComparer.Ordinal);

    // When a reader that did not fit in the table last read; it holds every page until IdleMs after that.
    private long _untrackedSeenMs;
    private bool _untracked;

    /// <summary><paramref name="reader"/> fetched bytes from <paramref name="position"/> on.</summary>
    public void OnRead(string reader, long position)
    {
        var now = nowMs();
        lock (_lock)
        {
            if (_readers.Count >= ReadersMax && !_readers.ContainsKey(reader))
            {
                Expire(now);
                if (_readers.Count >= ReadersMax)
                {
                    (_untracked, _untrackedSeenMs) = (true, now);
                    return;
                }
            }

            _readers[reader] = (position, now);
        }
    }

    /// <summary>
    /// The position every reader seen in the last <see cref="IdleMs"/> has fetched from; -1 when there is no such
    /// reader (then the file's pages are kept for whoever reads it next) or when one went untracked.
    /// </summary>
    public long Passed()
    {
        var now = nowMs();
        lock (_lock)
        {
            Expire(now);
            if (_readers.Count == 0 || _untracked)
            {
                return -1;
            }

            var passed = long.MaxValue;
            foreach (var (position, _) in _readers.Values)
            {
                passed = Math.Min(passed, position);
            }

            return passed;
        }
    }

    /// <summary>The file was cut: positions noted before may lie past its end, so every reader must fetch again to count.</summary>
    public void OnTruncated()
    {
        lock (_lock)
        {
            _readers.Clear();
        }
    }

    private void Expire(long now)
    {
        foreach (var (reader, (_, seenMs)) in _readers)
        {
            if (now - seenMs >= IdleMs)
            {
                _readers.Remove(reader);
            }
        }

        if (_untracked && now - _untrackedSeenMs >= IdleMs)
        {
            _untracked = false;
        }
    }
}
