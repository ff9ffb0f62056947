using System.Buffers.Binary;
using Tributary.Storage.Devices;

namespace Tributary.Storage.Segments;

/// <summary>
/// The sparse <c>.index</c> file of a segment, in Kafka's format: 8-byte big-endian entries of
/// (int32 offset relative to the segment's base offset, int32 byte position in the <c>.log</c> file).
/// As in Kafka, an entry names a batch's last offset and that batch's start position, and entries strictly increase
/// in both fields. Lookups binary-search the file itself with positional reads, so memory use does not grow with
/// the log; the OS page cache keeps hot index pages in memory. The newest entries wait in memory until
/// <see cref="IndexEntries.PendingEntriesMax"/> have gathered or the segment is flushed or rolled (<see cref="TryWriteOut"/>).
/// </summary>
internal sealed class OffsetIndex : IDisposable
{
    public const int EntryBytes = 8;

    private readonly IndexEntries _entries;
    private readonly long _baseOffset;
    private long _lastOffset;
    private int _lastPosition;

    public OffsetIndex(ILogFile file, long baseOffset)
    {
        _entries = new IndexEntries(file, EntryBytes);
        _baseOffset = baseOffset;
        _lastOffset = baseOffset - 1;
        _lastPosition = -1;
        if (_entries.Count > 0)
        {
            (_lastOffset, _lastPosition) = ReadEntry(_entries.Count - 1);
        }
    }

    public int EntryCount => _entries.Count;

    /// <summary>Entries not yet written to the file (appender only).</summary>
    public int PendingCount => _entries.PendingCount;

    /// <summary>The last entry's position, or -1 when empty.</summary>
    public int LastPosition => _lastPosition;

    /// <summary>
    /// True when the file could have been written by this log: whole entries only, increasing, and the last one
    /// pointing inside the log. A false answer means the index is rebuilt from the log.
    /// </summary>
    public bool LooksConsistent(long logBytes)
    {
        if (_entries.FileLength % EntryBytes != 0)
        {
            return false;
        }

        if (_entries.Count == 0)
        {
            return true;
        }

        var (firstOffset, firstPosition) = ReadEntry(0);
        return firstOffset >= _baseOffset && firstPosition >= 0
            && _lastOffset >= firstOffset && _lastPosition >= firstPosition
            && _lastPosition < logBytes;
    }

    /// <summary>
    /// Adds an entry; false when it was left out because the file refused the write-out of a full buffer
    /// (<see cref="IndexEntries"/>): the index stays sparse and right, with a gap.
    /// </summary>
    public bool TryAppend(long offset, int position)
    {
        if (offset <= _lastOffset || position <= _lastPosition)
        {
            throw new InvalidOperationException(
                $"offset index entries must increase: ({offset}, {position}) after ({_lastOffset}, {_lastPosition})");
        }

        Span<byte> entry = stackalloc byte[EntryBytes];
        BinaryPrimitives.WriteInt32BigEndian(entry, checked((int)(offset - _baseOffset)));
        BinaryPrimitives.WriteInt32BigEndian(entry[4..], position);
        if (!_entries.TryAppend(entry))
        {
            return false;
        }

        _lastOffset = offset;
        _lastPosition = position;
        return true;
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
        _entries.Clear();
        _lastOffset = _baseOffset - 1;
        _lastPosition = -1;
    }

    /// <summary>Writes the entries held in memory to the file (appender only); false when the file refused them.</summary>
    public bool TryWriteOut() => _entries.TryWriteOut();

    /// <summary>A write-out failure not yet reported, once (appender only; <see cref="IndexEntries.TakeWriteOutFailure"/>).</summary>
    public IOException? TakeWriteOutFailure() => _entries.TakeWriteOutFailure();

    /// <summary>Writes the entries held in memory to the file and makes it durable (appender only).</summary>
    public void Flush() => _entries.Flush();

    public void Dispose() => _entries.Dispose();

    private (long Offset, int Position) ReadEntry(int index)
    {
        Span<byte> entry = stackalloc byte[EntryBytes];
        _entries.Read(index, entry);
        return (_baseOffset + BinaryPrimitives.ReadInt32BigEndian(entry), BinaryPrimitives.ReadInt32BigEndian(entry[4..]));
    }
}
