using System.Buffers.Binary;
using Tributary.Storage.Devices;
using Tributary.Storage.Producers;

namespace Tributary.Storage.Segments;

/// <summary>
/// A segment's aborted-transaction index (<c>.txnindex</c>), Kafka's TransactionIndex: one 34-byte big-endian entry
/// per transaction whose abort marker is in the segment, in marker order: version int16 (0), producer id int64, first
/// offset int64, last offset (the marker's) int64, last stable offset int64 (the LSO once the abort completed). The
/// file exists only once the segment has an entry. Entries are read once and kept (a few per segment); appends go to
/// the file at once, without fsync (the segment's flush makes them durable).
/// </summary>
internal sealed class TransactionIndex : IDisposable
{
    public const int EntryBytes = 34;

    private const short Version = 0;

    private readonly ILogDevice _device;
    private readonly Lock _lock = new();
    private string _path;
    private ILogFile? _file;
    private volatile TransactionIndexEntry[]? _entries;

    // Entries the file holds; fewer than _entries when a write failed (the next append or flush writes the rest).
    private int _entriesInFile;

    // Entries written since the last fsync: a flush with nothing new costs no fsync.
    private bool _unflushed;
    private bool _disposed;

    public TransactionIndex(ILogDevice device, string path)
    {
        _device = device;
        _path = path;
    }

    /// <summary>The entries, oldest marker first; read from the file on first use.</summary>
    public TransactionIndexEntry[] Entries => _entries ?? Load();

    /// <summary>Adds the entry of an abort whose marker is in this segment (appender only).</summary>
    public void Append(TransactionIndexEntry entry)
    {
        lock (_lock)
        {
            var entries = _entries ?? LoadLocked();
            _entries = [.. entries, entry];
            WriteOutLocked();
        }
    }

    /// <summary>Drops every entry (the segment's entries are about to be rebuilt from its batches).</summary>
    public void Reset()
    {
        lock (_lock)
        {
            _entries = [];
            _entriesInFile = 0;
            if (_file is not null)
            {
                _file.Truncate(0);
                _unflushed = true;
            }
            else
            {
                _device.DeleteFile(_path);
            }
        }
    }

    /// <summary>
    /// Adds the aborted transactions that overlap [<paramref name="fromOffset"/>, <paramref name="upperBoundOffset"/>)
    /// to <paramref name="into"/>; true when an entry's last stable offset reaches the upper bound, so no later
    /// segment can hold another one that does (Kafka's TxnIndexSearchResult.isComplete).
    /// </summary>
    public bool Collect(long fromOffset, long upperBoundOffset, List<AbortedTransaction> into)
    {
        foreach (var entry in Entries)
        {
            if (entry.LastOffset >= fromOffset && entry.FirstOffset < upperBoundOffset)
            {
                into.Add(new AbortedTransaction(entry.ProducerId, entry.FirstOffset, entry.LastOffset));
            }

            if (entry.LastStableOffset >= upperBoundOffset)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Writes entries a failed write left out, then fsyncs the file if it took entries since the last time.</summary>
    public void Flush()
    {
        lock (_lock)
        {
            if (_entries is { } entries && _entriesInFile < entries.Length)
            {
                WriteOutLocked();
                if (_entriesInFile < entries.Length)
                {
                    throw new IOException($"could not write the transaction index {_path}");
                }
            }

            if (_unflushed && _file is not null)
            {
                _file.Flush();
                _unflushed = false;
            }
        }
    }

    /// <summary>Follows a rename of the segment's files (the cleaner's suffixes); the file moves only if it exists.</summary>
    public void MoveTo(string path)
    {
        lock (_lock)
        {
            if (_file is not null || _device.FileExists(_path))
            {
                _device.ReplaceFile(_path, path);
            }

            _path = path;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _file?.Dispose();
            _file = null;
        }
    }

    public static void Write(Span<byte> destination, in TransactionIndexEntry entry)
    {
        BinaryPrimitives.WriteInt16BigEndian(destination, Version);
        BinaryPrimitives.WriteInt64BigEndian(destination[2..], entry.ProducerId);
        BinaryPrimitives.WriteInt64BigEndian(destination[10..], entry.FirstOffset);
        BinaryPrimitives.WriteInt64BigEndian(destination[18..], entry.LastOffset);
        BinaryPrimitives.WriteInt64BigEndian(destination[26..], entry.LastStableOffset);
    }

    private TransactionIndexEntry[] Load()
    {
        lock (_lock)
        {
            return _entries ?? LoadLocked();
        }
    }

    /// <summary>Reads the whole entries of the file; a torn last entry or one of another version ends the list.</summary>
    private TransactionIndexEntry[] LoadLocked()
    {
        var entries = new List<TransactionIndexEntry>();
        if (!_disposed && _device.FileExists(_path))
        {
            var file = OpenLocked();
            var bytes = new byte[file.Length - (file.Length % EntryBytes)];
            var read = 0;
            while (read < bytes.Length && file.ReadAt(read, bytes.AsSpan(read)) is > 0 and var n)
            {
                read += n;
            }

            for (var position = 0; position + EntryBytes <= read; position += EntryBytes)
            {
                var span = bytes.AsSpan(position, EntryBytes);
                if (BinaryPrimitives.ReadInt16BigEndian(span) != Version)
                {
                    break;
                }

                entries.Add(new TransactionIndexEntry(
                    BinaryPrimitives.ReadInt64BigEndian(span[2..]),
                    BinaryPrimitives.ReadInt64BigEndian(span[10..]),
                    BinaryPrimitives.ReadInt64BigEndian(span[18..]),
                    BinaryPrimitives.ReadInt64BigEndian(span[26..])));
            }

            if (file.Length != entries.Count * (long)EntryBytes)
            {
                // A torn or unreadable tail: appends continue after the entries kept.
                file.Truncate(entries.Count * (long)EntryBytes);
            }
        }

        _entriesInFile = entries.Count;
        var loaded = entries.ToArray();
        _entries = loaded;
        return loaded;
    }

    private ILogFile OpenLocked()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _file ??= _device.OpenFile(_path);
    }

    /// <summary>
    /// Appends the entries the file lacks. A refused write leaves them in memory (reads stay right) for the next append
    /// or flush to write; the file is cut back to whole entries first.
    /// </summary>
    private void WriteOutLocked()
    {
        var entries = _entries!;
        try
        {
            var file = OpenLocked();
            if (file.Length != _entriesInFile * (long)EntryBytes)
            {
                file.Truncate(_entriesInFile * (long)EntryBytes);
            }

            var bytes = new byte[(entries.Length - _entriesInFile) * EntryBytes];
            for (var i = _entriesInFile; i < entries.Length; i++)
            {
                Write(bytes.AsSpan((i - _entriesInFile) * EntryBytes), entries[i]);
            }

            file.Append(bytes);
            _entriesInFile = entries.Length;
            _unflushed = true;
        }
        catch (IOException)
        {
            // Kept in memory; Flush reports it if it still fails then.
        }
    }
}
