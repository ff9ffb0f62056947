using System.Buffers.Binary;
using Tributary.Storage.Devices;

namespace Tributary.Storage.Segments;

/// <summary>
/// The sparse <c>.timeindex</c> file of a segment, in Kafka's format: 12-byte big-endian entries of
/// (int64 timestamp, int32 offset relative to the segment's base offset). An entry says "the largest timestamp in
/// the segment up to here is T, first reached by the batch ending at offset O"; entries strictly increase in
/// timestamp, so the file is sorted and binary-searchable.
/// </summary>
internal sealed class TimeIndex : IDisposable
{
    public const int EntryBytes = 12;

    private readonly ILogFile _file;
    private readonly long _baseOffset;
    private int _entryCount;
    private long _lastTimestampMs = -1;
    private long _lastOffset;

    public TimeIndex(ILogFile file, long baseOffset)
    {
        _file = file;
        _baseOffset = baseOffset;
        _entryCount = (int)(file.Length / EntryBytes);
        _lastOffset = baseOffset;
        if (_entryCount > 0)
        {
            (_lastTimestampMs, _lastOffset) = ReadEntry(_entryCount - 1);
        }
    }

    public int EntryCount => Volatile.Read(ref _entryCount);

    /// <summary>Timestamp of the last entry, or -1 when empty.</summary>
    public long LastTimestampMs => _lastTimestampMs;

    public long LastOffset => _lastOffset;

    public bool LooksConsistent(long nextOffset)
    {
        if (_file.Length % EntryBytes != 0)
        {
            return false;
        }

        if (_entryCount == 0)
        {
            return true;
        }

        var (firstTimestampMs, firstOffset) = ReadEntry(0);
        return firstOffset >= _baseOffset && _lastOffset >= firstOffset && _lastTimestampMs >= firstTimestampMs
            && _lastOffset < nextOffset;
    }

    /// <summary>Adds an entry when <paramref name="timestampMs"/> is larger than the last one; otherwise nothing.</summary>
    public void MaybeAppend(long timestampMs, long offset)
    {
        if (timestampMs <= _lastTimestampMs || offset < _lastOffset)
        {
            return;
        }

        Span<byte> entry = stackalloc byte[EntryBytes];
        BinaryPrimitives.WriteInt64BigEndian(entry, timestampMs);
        BinaryPrimitives.WriteInt32BigEndian(entry[8..], checked((int)(offset - _baseOffset)));
        _file.Append(entry);
        _lastTimestampMs = timestampMs;
        _lastOffset = offset;
        Volatile.Write(ref _entryCount, _entryCount + 1);
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
        Volatile.Write(ref _entryCount, 0);
        _file.Truncate(0);
        _lastTimestampMs = -1;
        _lastOffset = _baseOffset;
    }

    public void Flush() => _file.Flush();

    public void Dispose() => _file.Dispose();

    private (long TimestampMs, long Offset) ReadEntry(int index)
    {
        Span<byte> entry = stackalloc byte[EntryBytes];
        if (_file.ReadAt((long)index * EntryBytes, entry) != EntryBytes)
        {
            throw new IOException($"time index entry {index} is beyond the end of the file");
        }

        return (BinaryPrimitives.ReadInt64BigEndian(entry), _baseOffset + BinaryPrimitives.ReadInt32BigEndian(entry[8..]));
    }
}
