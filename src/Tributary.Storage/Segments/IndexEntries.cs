using Tributary.Storage.Devices;

namespace Tributary.Storage.Segments;

/// <summary>
/// The fixed-size entries of an index file (<see cref="OffsetIndex"/>, <see cref="TimeIndex"/>), the newest held in
/// memory until <see cref="PendingEntriesMax"/> gather (or a flush or roll) and then written in one append, sparing a
/// <c>pwrite</c> per entry. Losing them in a crash is harmless: an index is a sparse guide (lookups walk the log from
/// the last entry) and recovery rebuilds the active segment's indexes. A refused write-out fails no append: entries
/// stay in memory, and once the buffer is full new ones are left out (<see cref="TryAppend"/>).
/// One appender (the append-lock holder); readers call <see cref="Read"/> without locks: an entry is written before
/// the count that publishes it, and a replaced buffer is never written again.
/// </summary>
internal sealed class IndexEntries : IDisposable
{
    /// <summary>Entries held in memory before they are written to the file (2 KiB of offset index, 3 KiB of time index).</summary>
    public const int PendingEntriesMax = 256;

    private readonly ILogFile _file;
    private readonly int _entryBytes;
    private Pending _pending;
    private int _count;
    private bool _failing;
    private bool _failureUnreported;
    private IOException? _lastFailure;

    public IndexEntries(ILogFile file, int entryBytes)
    {
        _file = file;
        _entryBytes = entryBytes;
        _count = (int)(file.Length / entryBytes);
        _pending = new Pending([], _count);
    }

    /// <summary>Entries in the index, those in memory included.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Entries not yet in the file (appender only).</summary>
    public int PendingCount => _count - _pending.FirstIndex;

    /// <summary>Bytes in the file itself (entries in memory excluded).</summary>
    public long FileLength => _file.Length;

    /// <summary>
    /// Appender only: adds an entry of exactly the entry size, writing the buffer out first if it is full. False when
    /// the buffer is full and the file refuses its write-out: the entry is left out (see the class remarks).
    /// </summary>
    public bool TryAppend(ReadOnlySpan<byte> entry)
    {
        if (entry.Length != _entryBytes)
        {
            throw new ArgumentException($"an index entry is {_entryBytes} bytes, not {entry.Length}", nameof(entry));
        }

        var pending = _pending;
        var slot = _count - pending.FirstIndex;
        if ((slot + 1) * _entryBytes > pending.Bytes.Length)
        {
            if (!TryWriteOut())
            {
                return false;
            }

            pending = new Pending(new byte[PendingEntriesMax * _entryBytes], _count);
            Volatile.Write(ref _pending, pending);
            slot = 0;
        }

        entry.CopyTo(pending.Bytes.AsSpan(slot * _entryBytes));

        // Published after the bytes are in place: a concurrent lookup never reads a half-written entry.
        Volatile.Write(ref _count, _count + 1);
        return true;
    }

    /// <summary>
    /// Appender only: appends the entries held in memory to the file and lets their buffer go (the next
    /// <see cref="TryAppend"/> takes a new one), so a segment that takes no more entries holds no buffer. False when
    /// the file refused them: they stay in memory, the file is cut back to the entries it held, and the failure waits
    /// in <see cref="TakeWriteOutFailure"/> if the previous write-out succeeded.
    /// </summary>
    public bool TryWriteOut()
    {
        var pending = _pending;
        var entries = _count - pending.FirstIndex;
        if (entries == 0)
        {
            return true;
        }

        var fileBytes = (long)pending.FirstIndex * _entryBytes;
        try
        {
            _file.Append(pending.Bytes.AsSpan(0, entries * _entryBytes));
        }
        catch (IOException e)
        {
            // A write that stopped part way may have left some entries, or part of one, behind the last whole entry.
            try
            {
                _file.Truncate(fileBytes);
            }
            catch (IOException)
            {
                // The next write-out appends at the same place; a load finds a torn tail and rebuilds the index.
            }

            _lastFailure = e;
            if (!_failing)
            {
                _failing = true;
                _failureUnreported = true;
            }

            return false;
        }

        _failing = false;
        Volatile.Write(ref _pending, new Pending([], _count));
        return true;
    }

    /// <summary>
    /// Appender only: the failure of the first write-out the file refused since the last one it took, once; null when
    /// there is none to report. Callers log it, so a disk that keeps refusing logs once, not once per entry.
    /// </summary>
    public IOException? TakeWriteOutFailure()
    {
        if (!_failureUnreported)
        {
            return null;
        }

        _failureUnreported = false;
        return _lastFailure;
    }

    /// <summary>Copies entry <paramref name="index"/> (below <see cref="Count"/>) into <paramref name="destination"/>.</summary>
    public void Read(int index, Span<byte> destination)
    {
        // The caller read the count that covers the index before this read of the buffer, so the buffer seen here is
        // the one the entry went into or a newer one; a newer one starts past the entry, which is then in the file.
        var pending = Volatile.Read(ref _pending);
        if (index >= pending.FirstIndex)
        {
            pending.Bytes.AsSpan((index - pending.FirstIndex) * _entryBytes, _entryBytes).CopyTo(destination[.._entryBytes]);
            return;
        }

        if (_file.ReadAt((long)index * _entryBytes, destination[.._entryBytes]) != _entryBytes)
        {
            throw new IOException($"index entry {index} is beyond the end of the file");
        }
    }

    /// <summary>Appender only: removes every entry, in memory and in the file.</summary>
    public void Clear()
    {
        Volatile.Write(ref _count, 0);
        Volatile.Write(ref _pending, new Pending([], 0));
        _file.Truncate(0);
    }

    /// <summary>
    /// Appender only: writes the entries held in memory out and makes the file durable (fsync). Throws when the file
    /// refuses them, since the caller (a clean close) is about to promise that the index and its log agree.
    /// </summary>
    public void Flush()
    {
        if (!TryWriteOut())
        {
            throw new IOException($"the index file refused its entries: {_lastFailure?.Message}", _lastFailure);
        }

        _file.Flush();
    }

    /// <summary>Closes the file. Entries still in memory are not written (as after a crash); see <see cref="Flush"/>.</summary>
    public void Dispose() => _file.Dispose();

    private sealed class Pending(byte[] bytes, int firstIndex)
    {
        public byte[] Bytes { get; } = bytes;

        /// <summary>Index of the entry in <see cref="Bytes"/>' first slot.</summary>
        public int FirstIndex { get; } = firstIndex;
    }
}
