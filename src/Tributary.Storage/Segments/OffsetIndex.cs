using System.Buffers.Binary;
using Tributary.Storage.Devices;

namespace Tributary.Storage.Segments;

/// <summary>
/// The sparse <c>.index</c> file of a segment, in Kafka's format: 8-byte big-endian entries of
/// (int32 offset relative to the segment's base offset, int32 byte position in the <c>.log</c> file).
/// As in Kafka, an entry names a batch's last offset and that batch's start position, and entries strictly increase
/// in both fields. Lookups binary-search the file itself with positional reads, so memory use does not grow with
/// the log; the OS page cache keeps hot index pages in memory.
/// </summary>
internal sealed class OffsetIndex : IDisposable
{
    public const int EntryBytes = 8;

    private readonly ILogFile _file;
    private readonly long _baseOffset;
    private int _entryCount;
    private long _lastOffset;
    private int _lastPosition;

    public OffsetIndex(ILogFile file, long baseOffset)
    {
        _file = file;
        _baseOffset = baseOffset;
        _entryCount = (int)(file.Length / EntryBytes);
        _lastOffset = baseOffset - 1;
        _lastPosition = -1;
        if (_entryCount > 0)
        {
            (_lastOffset, _lastPosition) = ReadEntry(_entryCount - 1);
        }
    }

    public int EntryCount => Volatile.Read(ref _entryCount);

    /// <summary>The last entry's position, or -1 when empty.</summary>
    public int LastPosition => _lastPosition;

    /// <summary>
    /// True when the file could have been written by this log: whole entries only, increasing, and the last one
    /// pointing inside the log. A false answer means the index is rebuilt from the log.
    /// </summary>
    public bool LooksConsistent(long logBytes)
    {
        if (_file.Length % EntryBytes != 0)
        {
            return false;
        }

        if (_entryCount == 0)
        {
            return true;
        }

        var (firstOffset, firstPosition) = ReadEntry(0);
        return firstOffset >= _baseOffset && firstPosition >= 0
            && _lastOffset >= firstOffset && _lastPosition >= firstPosition
            && _lastPosition < logBytes;
    }

    public void Append(long offset, int position)
    {
        if (offset <= _lastOffset || position <= _lastPosition)
        {
            throw new InvalidOperationException(
                $"offset index entries must increase: ({offset}, {position}) after ({_lastOffset}, {_lastPosition})");
        }

        Span<byte> entry = stackalloc byte[EntryBytes];
        BinaryPrimitives.WriteInt32BigEndian(entry, checked((int)(offset - _baseOffset)));
        BinaryPrimitives.WriteInt32BigEndian(entry[4..], position);
        _file.Append(entry);
        _lastOffset = offset;
        _lastPosition = position;

        // Published after the bytes are written: a concurrent lookup never reads a half-written entry.
        Volatile.Write(ref _entryCount, _entryCount + 1);
    }

    /// <summary>Position of the last indexed batch whose last offset is at most <paramref name="offset"/>, else 0.</summary>
    public int LookupPosition(long offset)
    {
        var low = 0;
        var high = EntryCount - 1;
        var position = 0;
        while (low <= high)
        {
            var middle = low + ((high - low) / 2);
            var (entryOffset, entryPosition) = ReadEntry(middle);
            if (entryOffset <= offset)
            {
                position = entryPosition;
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        return position;
    }

    public void Clear()
    {
        Volatile.Write(ref _entryCount, 0);
        _file.Truncate(0);
        _lastOffset = _baseOffset - 1;
        _lastPosition = -1;
    }

    public void Flush() => _file.Flush();

    public void Dispose() => _file.Dispose();

    private (long Offset, int Position) ReadEntry(int index)
    {
        Span<byte> entry = stackalloc byte[EntryBytes];
        if (_file.ReadAt((long)index * EntryBytes, entry) != EntryBytes)
        {
            throw new IOException($"offset index entry {index} is beyond the end of the file");
        }

        return (_baseOffset + BinaryPrimitives.ReadInt32BigEndian(entry), BinaryPrimitives.ReadInt32BigEndian(entry[4..]));
    }
}
