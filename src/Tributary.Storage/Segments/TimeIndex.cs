using System.Buffers.Binary;
using Tributary.Storage.Devices;

namespace Tributary.Storage.Segments;

/// <summary>
/// The sparse <c>.timeindex</c> file of a segment, in Kafka's format: 12-byte big-endian entries of
/// (int64 timestamp, int32 offset relative to the segment's base offset). An entry says "the largest timestamp in
/// the segment up to here is T, first reached by the batch ending at offset O"; entries strictly increase in
/// timestamp, so the file is sorted and binary-searchable. The newest entries wait in memory as the offset index's do
/// (<see cref="IndexEntries"/>).
/// </summary>
internal sealed class TimeIndex : IDisposable
{
    public const int EntryBytes = 12;

    private readonly IndexEntries _entries;
    private readonly long _baseOffset;
    private long _lastTimestampMs = -1;
    private long _lastOffset;

    public TimeIndex(ILogFile file, long baseOffset)
    {
        _entries = new IndexEntries(file, EntryBytes);
        _baseOffset = baseOffset;
        _lastOffset = baseOffset;
        if (_entries.Count > 0)
        {
            (_lastTimestampMs, _lastOffset) = ReadEntry(_entries.Count - 1);
        }
    }

    public int EntryCount => _entries.Count;

    /// <summary>Timestamp of the last entry, or -1 when empty.</summary>
    public long LastTimestampMs => _lastTimestampMs;

    public long LastOffset => _lastOffset;

    public bool LooksConsistent(long nextOffset)
    {
        if (_entries.FileLength % EntryBytes != 0)
        {
            return false;
        }

        if (_entries.Count == 0)
        {
            return true;
        }

        var (firstTimestampMs, firstOffset) = ReadEntry(0);
        return firstOffset >= _baseOffset && _lastOffset >= firstOffset && _lastTimestampMs >= firstTimestampMs
            && _lastOffset < nextOffset;
    }

    /// <summary>
    /// Adds an entry when <paramref name="timestampMs"/> is larger than the last one; otherwise nothing. An entry the
    /// full buffer cannot take while the file refuses its write-out is left out (<see cref="IndexEntries"/>).
    /// </summary>
    public void MaybeAppend(long timestampMs, long offset)
    {
        if (timestampMs <= _lastTimestampMs || offset < _lastOffset)
        {
            return;
        }

        Span<byte> entry = stackalloc byte[EntryBytes];
        BinaryPrimitives.WriteInt64BigEndian(entry, timestampMs);
        BinaryPrimitives.WriteInt32BigEndian(entry[8..], checked((int)(offset - _baseOffset)));
        if (_entries.TryAppend(entry))
        {
            _lastTimestampMs = timestampMs;
            _lastOffset = offset;
        }
    }

    /// <summary>
    /// Offset of the last entry whose timestamp is below <paramref name="timestampMs"/>, else the base offset. Every
    /// batch up to that offset has a smaller timestamp, so a search for the first batch at or after the time can
    /// start there.
    /// </summary>
    public long LookupOffsetBefore(long timestampMs)
    {
        var low = 0;
        var high = EntryCount - 1;
        var offset = _baseOffset;
        while (low <= high)
        {
            var middle = low + ((high - low) / 2);
            var (entryTimestampMs, entryOffset) = ReadEntry(middle);
            if (entryTimestampMs < timestampMs)
            {
                offset = entryOffset;
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        return offset;
    }

    public void Clear()
    {
        _entries.Clear();
        _lastTimestampMs = -1;
        _lastOffset = _baseOffset;
    }

    /// <summary>Writes the entries held in memory to the file (appender only); false when the file refused them.</summary>
    public bool TryWriteOut() => _entries.TryWriteOut();

    /// <summary>A write-out failure not yet reported, once (appender only; <see cref="IndexEntries.TakeWriteOutFailure"/>).</summary>
    public IOException? TakeWriteOutFailure() => _entries.TakeWriteOutFailure();

    /// <summary>Writes the entries held in memory to the file and makes it durable (appender only).</summary>
    public void Flush() => _entries.Flush();

    public void Dispose() => _entries.Dispose();

    private (long TimestampMs, long Offset) ReadEntry(int index)
    {
        Span<byte> entry = stackalloc byte[EntryBytes];
        _entries.Read(index, entry);
        return (BinaryPrimitives.ReadInt64BigEndian(entry), _baseOffset + BinaryPrimitives.ReadInt32BigEndian(entry[8..]));
    }
}
