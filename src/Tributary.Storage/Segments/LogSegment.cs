using System.Buffers;
using System.Globalization;
using Tributary.Protocol;
using Tributary.Protocol.Records;
using Tributary.Storage.Devices;

namespace Tributary.Storage.Segments;

/// <summary>
/// One segment of a partition: <c>NNNNNNNNNNNNNNNNNNNN.log</c> with stored batches, and its sparse
/// <c>.index</c> and <c>.timeindex</c>, named after the first offset it holds (zero-padded to 20 digits, Kafka's
/// layout). Only the partition's append lock holder mutates it; readers use <see cref="SizeBytes"/> and
/// <see cref="NextOffset"/>, which are published only after the bytes they cover are written.
/// </summary>
internal sealed class LogSegment : IDisposable
{
    public const string LogSuffix = ".log";
    public const string IndexSuffix = ".index";
    public const string TimeIndexSuffix = ".timeindex";
    public const string TxnIndexSuffix = ".txnindex";

    /// <summary>Kafka's suffix of a segment's files while they wait out <c>file.delete.delay.ms</c>.</summary>
    public const string DeletedSuffix = ".deleted";

    private const int BaseOffsetDigits = 20;

    private readonly ILogDevice _device;
    private readonly string _directory;
    private readonly ILogFile _log;
    private readonly OffsetIndex _offsetIndex;
    private readonly TimeIndex _timeIndex;
    private long _sizeBytes;
    private long _nextOffset;
    private long _largestTimestampMs = -1;
    private long _offsetOfLargestTimestamp;
    private long _bytesSinceLastIndexEntry;
    private long _firstAppendMs;
    private long _lastAppendMs;

    // "" for a segment of the log; ".cleaned" or ".swap" while the cleaner writes and swaps in a replacement.
    private string _fileSuffix;

    // The newest appended batches, for readers near the tail; while the segment is active only.
    private RecentBatches? _recent;

    private LogSegment(ILogDevice device, string directory, long baseOffset, long nowMs, string fileSuffix = "")
    {
        _device = device;
        _directory = directory;
        _fileSuffix = fileSuffix;
        BaseOffset = baseOffset;

        // The indexes first, the log last: a segment exists on disk only once its log file does (load removes indexes
        // without one), so a roll the disk refuses part way leaves no empty segment inside the offsets of the one
        // before it. Files already opened are closed again when a later one fails.
        var opened = new List<ILogFile>(3);
        try
        {
            opened.Add(device.OpenFile(PathOf(directory, baseOffset, IndexSuffix + fileSuffix)));
            _offsetIndex = new OffsetIndex(opened[^1], baseOffset);
            opened.Add(device.OpenFile(PathOf(directory, baseOffset, TimeIndexSuffix + fileSuffix)));
            _timeIndex = new TimeIndex(opened[^1], baseOffset);
            _log = device.OpenFile(PathOf(directory, baseOffset, LogSuffix + fileSuffix));
            TxnIndex = new TransactionIndex(device, PathOf(directory, baseOffset, TxnIndexSuffix + fileSuffix));
        }
        catch
        {
            foreach (var file in opened)
            {
                file.Dispose();
            }

            throw;
        }
        _nextOffset = baseOffset;
        _offsetOfLargestTimestamp = baseOffset;
        _firstAppendMs = -1;
        _lastAppendMs = nowMs;
    }

    public long BaseOffset { get; }

    /// <summary>The aborted transactions whose markers are in this segment (its <c>.txnindex</c>).</summary>
    public TransactionIndex TxnIndex { get; }

    /// <summary>Bytes of whole, readable batches.</summary>
    public long SizeBytes => Volatile.Read(ref _sizeBytes);

    /// <summary>One past the last offset stored in this segment (the base offset when empty).</summary>
    public long NextOffset => Volatile.Read(ref _nextOffset);

    /// <summary>Largest batch maxTimestamp in the segment, or -1 when no batch carries a timestamp.</summary>
    public long LargestTimestampMs => Volatile.Read(ref _largestTimestampMs);

    /// <summary>When this segment received its first append (load time for a segment loaded from disk), or -1 when empty.</summary>
    public long FirstAppendMs => _firstAppendMs;

    /// <summary>When this segment last received an append (load time for a segment loaded from disk).</summary>
    public long LastAppendMs => Volatile.Read(ref _lastAppendMs);

    public static string PathOf(string directory, long baseOffset, string suffix) =>
        Path.Combine(directory, baseOffset.ToString("D20", CultureInfo.InvariantCulture) + suffix);

    /// <summary>Parses <c>00000000000000000042.log</c> (or another suffix) into 42.</summary>
    public static bool TryParseBaseOffset(string fileName, string suffix, out long baseOffset)
    {
        baseOffset = 0;
        return fileName.Length == BaseOffsetDigits + suffix.Length
            && fileName.EndsWith(suffix, StringComparison.Ordinal)
            && fileName.AsSpan(0, BaseOffsetDigits).IndexOfAnyExceptInRange('0', '9') < 0
            && long.TryParse(fileName.AsSpan(0, BaseOffsetDigits), NumberStyles.None, CultureInfo.InvariantCulture, out baseOffset);
    }

    /// <summary>A new, empty segment; leftovers of an earlier segment with the same base offset are discarded.</summary>
    public static LogSegment Create(ILogDevice device, string directory, long baseOffset, long nowMs)
    {
        foreach (var suffix in new[] { LogSuffix, IndexSuffix, TimeIndexSuffix, TxnIndexSuffix })
        {
            device.DeleteFile(PathOf(directory, baseOffset, suffix));
        }

        return new LogSegment(device, directory, baseOffset, nowMs);
    }

    /// <summary>
    /// A new, empty segment whose files carry <paramref name="fileSuffix"/> after their usual names (the cleaner's
    /// <c>.cleaned</c>), so the log does not see it until <see cref="ChangeFileSuffix"/> renames it.
    /// </summary>
    public static LogSegment CreateWithSuffix(ILogDevice device, string directory, long baseOffset, long nowMs, string fileSuffix)
    {
        foreach (var suffix in new[] { LogSuffix, IndexSuffix, TimeIndexSuffix, TxnIndexSuffix })
        {
            device.DeleteFile(PathOf(directory, baseOffset, suffix + fileSuffix));
        }

        return new LogSegment(device, directory, baseOffset, nowMs, fileSuffix);
    }

    /// <summary>
    /// Renames the segment's open files to carry <paramref name="fileSuffix"/> instead: the indexes first, the log
    /// last, so whether the log file has the new name tells recovery whether the step happened.
    /// </summary>
    public void ChangeFileSuffix(string fileSuffix)
    {
        TxnIndex.MoveTo(PathOf(_directory, BaseOffset, TxnIndexSuffix + fileSuffix));
        foreach (var suffix in new[] { IndexSuffix, TimeIndexSuffix, LogSuffix })
        {
            _device.ReplaceFile(PathOf(_directory, BaseOffset, suffix + _fileSuffix), PathOf(_directory, BaseOffset, suffix + fileSuffix));
        }

        _fileSuffix = fileSuffix;
    }

    /// <summary>Opens an existing segment's files; the caller then calls <see cref="TryLoad"/> or <see cref="Recover"/>.</summary>
    public static LogSegment Open(ILogDevice device, string directory, long baseOffset, long nowMs, out bool indexFilesMissing)
    {
        indexFilesMissing = !device.FileExists(PathOf(directory, baseOffset, IndexSuffix))
            || !device.FileExists(PathOf(directory, baseOffset, TimeIndexSuffix));
        return new LogSegment(device, directory, baseOffset, nowMs);
    }

    /// <summary>
    /// Loads a segment that was closed cleanly, trusting its indexes: only the batches after the last offset-index
    /// entry (at most about one index interval) are walked to find the next offset and newest timestamp. Returns
    /// false, changing nothing the caller relies on, when the files do not fit together; then call
    /// <see cref="Recover"/>.
    /// </summary>
    public bool TryLoad()
    {
        var logBytes = _log.Length;
        if (!_offsetIndex.LooksConsistent(logBytes))
        {
            return false;
        }

        long position = Math.Max(0, _offsetIndex.LastPosition);
        var nextOffset = BaseOffset;
        var largestTimestampMs = _timeIndex.LastTimestampMs;
        var offsetOfLargestTimestamp = _timeIndex.LastOffset;
        Span<byte> prefixBytes = stackalloc byte[BatchPrefix.Bytes];
        while (position < logBytes)
        {
            if (logBytes - position < RecordBatchHeader.Size || _log.ReadAt(position, prefixBytes) != prefixBytes.Length)
            {
                return false;
            }

            var prefix = BatchPrefix.Read(prefixBytes);
            if (prefix.TotalSize < RecordBatchHeader.Size || prefix.TotalSize > logBytes - position
                || prefix.BaseOffset < nextOffset || prefix.LastOffset < prefix.BaseOffset)
            {
                return false;
            }

            if (prefix.MaxTimestampMs > largestTimestampMs)
            {
                largestTimestampMs = prefix.MaxTimestampMs;
                offsetOfLargestTimestamp = prefix.LastOffset;
            }

            nextOffset = prefix.LastOffset + 1;
            position += prefix.TotalSize;
        }

        if (!_timeIndex.LooksConsistent(nextOffset))
        {
            return false;
        }

        _sizeBytes = logBytes;
        _nextOffset = nextOffset;
        _largestTimestampMs = largestTimestampMs;
        _offsetOfLargestTimestamp = offsetOfLargestTimestamp;
        _bytesSinceLastIndexEntry = logBytes - Math.Max(0, _offsetIndex.LastPosition);
        _firstAppendMs = logBytes > 0 ? _lastAppendMs : -1;
        return true;
    }

    /// <summary>
    /// Walks every batch checking length, magic, CRC and that offsets only increase; cuts the log at the first batch
    /// that fails (a torn write or corruption: nothing after it can be trusted) and rebuilds both indexes.
    /// Returns the number of bytes cut; <paramref name="problem"/> says why.
    /// </summary>
    public long Recover(int indexIntervalBytes, out string? problem)
    {
        problem = null;
        _offsetIndex.Clear();
        _timeIndex.Clear();
        _largestTimestampMs = -1;
        _offsetOfLargestTimestamp = BaseOffset;
        _bytesSinceLastIndexEntry = 0;

        var logBytes = _log.Length;
        long position = 0;
        var nextOffset = BaseOffset;
        Span<byte> headerBytes = stackalloc byte[RecordBatchHeader.Size];
        byte[]? batchBuffer = null;
        try
        {
            while (position < logBytes)
            {
                if (logBytes - position < RecordBatchHeader.Size || _log.ReadAt(position, headerBytes) != headerBytes.Length)
                {
                    problem = $"torn batch header at position {position}";
                    break;
                }

                RecordBatchHeader header;
                try
                {
                    header = RecordBatchHeader.Read(headerBytes);
                }
                catch (ProtocolException e)
                {
                    problem = $"invalid batch at position {position}: {e.Message}";
                    break;
                }

                if (header.TotalSize > logBytes - position)
                {
                    problem = $"torn batch at position {position}: {header.TotalSize} bytes declared, {logBytes - position} present";
                    break;
                }

                if (header.BaseOffset < nextOffset || header.LastOffset - BaseOffset > int.MaxValue)
                {
                    problem = $"batch at position {position} has base offset {header.BaseOffset}, expected at least {nextOffset}";
                    break;
                }

                if (batchBuffer is null || batchBuffer.Length < header.TotalSize)
                {
                    if (batchBuffer is not null)
                    {
                        ArrayPool<byte>.Shared.Return(batchBuffer);
                    }

                    batchBuffer = ArrayPool<byte>.Shared.Rent(header.TotalSize);
                }

                var batch = batchBuffer.AsSpan(0, header.TotalSize);
                if (_log.ReadAt(position, batch) != batch.Length || !RecordBatchHeader.IsCrcValid(batch))
                {
                    problem = $"CRC mismatch in batch at position {position} (offsets {header.BaseOffset}..{header.LastOffset})";
                    break;
                }

                IndexBatch(BatchPrefix.Read(batch), position, indexIntervalBytes);
                position += header.TotalSize;
                nextOffset = header.NextOffset;
            }
        }
        finally
        {
            if (batchBuffer is not null)
            {
                ArrayPool<byte>.Shared.Return(batchBuffer);
            }
        }

        if (position < logBytes)
        {
            _log.Truncate(position);
        }

        _sizeBytes = position;
        _nextOffset = nextOffset;
        _firstAppendMs = position > 0 ? _lastAppendMs : -1;
        return logBytes - position;
    }

    /// <summary>
    /// Cuts the segment before the batch holding <paramref name="offset"/> (or the first after it), as Kafka's
    /// LogSegment.truncateTo: a batch is kept or cut whole, so the new end may lie below the offset. The indexes are
    /// rebuilt by walking what remains. Appender only.
    /// </summary>
    public void TruncateTo(long offset, int indexIntervalBytes)
    {
        var logBytes = _log.Length;
        long position = 0;
        Span<byte> headerBytes = stackalloc byte[RecordBatchHeader.Size];
        while (position + RecordBatchHeader.Size <= logBytes && _log.ReadAt(position, headerBytes) == headerBytes.Length)
        {
            var header = RecordBatchHeader.Read(headerBytes);
            if (header.LastOffset >= offset)
            {
                break;
            }

            position += header.TotalSize;
        }

        Volatile.Write(ref _recent, null);
        if (position < logBytes)
        {
            _log.Truncate(position);
        }

        Recover(indexIntervalBytes, out _);
    }

    /// <summary>
    /// Appends batches whose offsets are already assigned (and lie beyond <see cref="NextOffset"/>) and indexes them.
    /// </summary>
    public void Append(ReadOnlySpan<byte> batches, int indexIntervalBytes, long nowMs)
    {
        var position = _sizeBytes;
        try
        {
            _log.Append(batches);
        }
        catch
        {
            // Leave no partial batch behind for a later append to follow; if even this fails, recovery will cut it.
            TryTruncate(position);
            throw;
        }

        var cursor = 0;
        var nextOffset = _nextOffset;
        var recent = _recent;
        if (recent is null)
        {
            recent = new RecentBatches();
            Volatile.Write(ref _recent, recent);
        }
        while (cursor < batches.Length)
        {
            var prefix = BatchPrefix.Read(batches[cursor..]);
            IndexBatch(prefix, position + cursor, indexIntervalBytes);
            recent.Add(position + cursor, prefix);
            cursor += prefix.TotalSize;
            nextOffset = prefix.LastOffset + 1;
        }

        if (_firstAppendMs < 0)
        {
            _firstAppendMs = nowMs;
        }

        Volatile.Write(ref _lastAppendMs, nowMs);

        // Size before next offset: a reader that sees the new high watermark also sees these bytes.
        Volatile.Write(ref _sizeBytes, position + batches.Length);
        Volatile.Write(ref _nextOffset, nextOffset);
    }

    /// <summary>
    /// Called when the segment stops being the active one (roll or clean close): as Kafka does, the time index gets a
    /// final entry for the newest timestamp, so a later load finds it without reading the log; index entries still held
    /// in memory go to their files.
    /// </summary>
    public void OnBecomeInactive()
    {
        _timeIndex.MaybeAppend(_largestTimestampMs, _offsetOfLargestTimestamp);
        WriteOutIndexes();
        _log.Trim();
        Volatile.Write(ref _recent, null); // its readers are few now; a reader still holding it is unaffected
    }

    /// <summary>
    /// Whole batches starting with the one that contains <paramref name="fetchOffset"/> (or the first after it), up to
    /// <paramref name="maxBytes"/>, at least one batch when <paramref name="minOneBatch"/>, none at or beyond
    /// <paramref name="highWatermark"/>. Returns false when this segment holds nothing at or after the offset.
    /// With <paramref name="buffers"/> (a fetch), batches of at least <see cref="DeferredBatchBytesMin"/> are returned as
    /// <see cref="SegmentRecords"/>, left in the file until the response is written, and smaller ones land in an array
    /// rented from <paramref name="buffers"/>; without it the bytes land in a new array. A read of at least one batch
    /// tells the file where <paramref name="reader"/> is, when given (<see cref="ILogFile.OnRead"/>).
    /// </summary>
    public bool Read(long fetchOffset, int maxBytes, bool minOneBatch, long highWatermark, ReadBuffers? buffers, string? reader, out ReadOnlyMemory<byte> records)
    {
        records = ReadOnlyMemory<byte>.Empty;
        var sizeBytes = SizeBytes;
        if (!TryFindBatch(fetchOffset, sizeBytes, out var position, out var first))
        {
            return false;
        }

        if (first.BaseOffset >= highWatermark)
        {
            return true;
        }

        var available = sizeBytes - position;
        var wanted = Math.Min(available, Math.Max(0, maxBytes));
        if (minOneBatch)
        {
            // KIP-74: a batch larger than maxBytes is still returned whole, or the consumer could never progress.
            wanted = Math.Max(wanted, first.TotalSize);
        }

        if (wanted < first.TotalSize)
        {
            return true;
        }

        var length = checked((int)wanted); // at most max(maxBytes, one batch), both ints
        if (reader is not null)
        {
            _log.OnRead(reader, position);
        }

        if (buffers is not null && first.TotalSize >= DeferredBatchBytesMin)
        {
            records = ReadDeferred(position, length, first, highWatermark, sizeBytes);
            return true;
        }

        // Uninitialized: every byte handed out is overwritten by the read first.
        var buffer = buffers?.Rent(length) ?? GC.AllocateUninitializedArray<byte>(length);
        var read = _log.ReadAt(position, buffer.AsSpan(0, length));
        var end = 0;
        while (read - end >= BatchPrefix.Bytes)
        {
            var prefix = BatchPrefix.Read(buffer.AsSpan(end));
            if (prefix.TotalSize > read - end || prefix.BaseOffset >= highWatermark)
            {
                break;
            }

            end += prefix.TotalSize;
        }

        records = buffer.AsMemory(0, end);
        return true;
    }

    /// <summary><paramref name="reader"/> fetched from an older segment of the partition, so has all of this one to read.</summary>
    public void OnReaderBehind(string reader) => _log.OnRead(reader, 0);

    /// <summary>
    /// Smallest first batch, in bytes, for which a fetch's read is deferred to the response's serialization
    /// (<see cref="SegmentRecords"/>): finding where the last whole batch ends then costs one small read per batch,
    /// cheap against batches of this size, not against a log of one-record batches, which is read at once as before.
    /// </summary>
    public const int DeferredBatchBytesMin = 16 * 1024;

    /// <summary>Most batches one deferred read walks; the fetch returns those, and the client asks for the rest.</summary>
    public const int DeferredBatchesMax = 1024;

    /// <summary>Whole batches from <paramref name="position"/> within <paramref name="length"/> bytes, found by their headers, bytes left in the file.</summary>
    private ReadOnlyMemory<byte> ReadDeferred(long position, int length, BatchPrefix first, long highWatermark, long sizeBytes)
    {
        Span<byte> prefixBytes = stackalloc byte[BatchPrefix.Bytes];
        var recent = Volatile.Read(ref _recent);
        var batch = first;
        var end = 0;
        var nextOffset = first.BaseOffset;
        for (var batches = 0; batches < DeferredBatchesMax; batches++)
        {
            if (batch.TotalSize > length - end || batch.BaseOffset >= highWatermark)
            {
                break;
            }

            end += batch.TotalSize;
            nextOffset = batch.LastOffset + 1;
            if (length - end < BatchPrefix.Bytes)
            {
                break;
            }

            if (recent is null || !recent.TryFindAt(position + end, sizeBytes, out batch))
            {
                if (_log.ReadAt(position + end, prefixBytes) != prefixBytes.Length)
                {
                    break;
                }

                batch = BatchPrefix.Read(prefixBytes);
            }
        }

        return new SegmentRecords(_log, position, end, nextOffset).Memory;
    }

    /// <summary>
    /// Every whole batch of the segment in order, read <paramref name="chunkBytes"/> at a time (a larger batch in
    /// one read of its own), for the cleaner. <paramref name="onRead"/> is told each read's size (the cleaner's I/O
    /// throttle). A batch stays valid until the next one is asked for.
    /// </summary>
    public IEnumerable<ReadOnlyMemory<byte>> ReadBatches(int chunkBytes, Action<int> onRead)
    {
        var sizeBytes = SizeBytes;
        long position = 0;
        var buffer = new byte[chunkBytes];
        while (sizeBytes - position >= RecordBatchHeader.Size)
        {
            var read = _log.ReadAt(position, buffer.AsSpan(0, (int)Math.Min(buffer.Length, sizeBytes - position)));
            if (read < BatchPrefix.Bytes)
            {
                yield break;
            }

            var first = BatchPrefix.Read(buffer);
            if (first.TotalSize > read)
            {
                if (first.TotalSize > sizeBytes - position)
                {
                    yield break;
                }

                buffer = new byte[first.TotalSize];
                read = _log.ReadAt(position, buffer);
            }

            onRead(read);
            var cursor = 0;
            while (read - cursor >= BatchPrefix.Bytes)
            {
                var prefix = BatchPrefix.Read(buffer.AsSpan(cursor));
                if (prefix.TotalSize > read - cursor)
                {
                    break;
                }

                yield return buffer.AsMemory(cursor, prefix.TotalSize);
                cursor += prefix.TotalSize;
            }

            if (cursor == 0)
            {
                yield break;
            }

            position += cursor;
        }
    }

    /// <summary>The first batch's base timestamp, or -1 when the segment is empty or unreadable.</summary>
    public long FirstBatchTimestampMs()
    {
        Span<byte> header = stackalloc byte[RecordBatchHeader.Size];
        return SizeBytes >= RecordBatchHeader.Size && _log.ReadAt(0, header) == header.Length
            ? System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(header[RecordBatchHeader.BaseTimestampOffset..])
            : -1;
    }

    /// <summary>Base offset of the first batch whose maxTimestamp is at least <paramref name="timestampMs"/>, below the high watermark.</summary>
    public long? FindOffsetByTimestamp(long timestampMs, long highWatermark)
    {
        if (LargestTimestampMs < timestampMs)
        {
            return null;
        }

        var sizeBytes = SizeBytes;
        long position = _offsetIndex.LookupPosition(_timeIndex.LookupOffsetBefore(timestampMs));
        Span<byte> prefixBytes = stackalloc byte[BatchPrefix.Bytes];
        while (sizeBytes - position >= BatchPrefix.Bytes && _log.ReadAt(position, prefixBytes) == prefixBytes.Length)
        {
            var prefix = BatchPrefix.Read(prefixBytes);
            if (prefix.BaseOffset >= highWatermark)
            {
                return null;
            }

            if (prefix.MaxTimestampMs >= timestampMs)
            {
                return prefix.BaseOffset;
            }

            position += prefix.TotalSize;
        }

        return null;
    }

    /// <summary>
    /// Makes the log and both indexes durable, index entries held in memory included. On the active segment only the
    /// appender may call it (index entries are the appender's); the active segment's group commit uses
    /// <see cref="FlushRecords"/>.
    /// </summary>
    public void Flush()
    {
        _log.Flush();
        _offsetIndex.Flush();
        _timeIndex.Flush();
        TxnIndex.Flush();
    }

    /// <summary>
    /// Makes the records durable, and the transaction index when it took entries. Enough for the active segment on
    /// the fsync-before-ack path: a segment whose offset or time index does not fit its log after a crash is scanned
    /// and its indexes rebuilt, and one that fits is right (a sparser index finds every batch all the same), so syncing
    /// them too would triple the fsyncs for nothing. The transaction index is not so forgiving: a lost entry would show
    /// an aborted transaction to read_committed consumers of a segment the recovery point lets recovery skip.
    /// </summary>
    public void FlushRecords()
    {
        _log.Flush();
        TxnIndex.Flush();
    }

    /// <summary>Closes the segment and removes its files.</summary>
    public void Delete()
    {
        Dispose();
        foreach (var suffix in new[] { LogSuffix, IndexSuffix, TimeIndexSuffix, TxnIndexSuffix })
        {
            _device.DeleteFile(PathOf(_directory, BaseOffset, suffix + _fileSuffix));
        }
    }

    public void Dispose()
    {
        _log.Dispose();
        _offsetIndex.Dispose();
        _timeIndex.Dispose();
        TxnIndex.Dispose();
    }

    /// <summary>
    /// Appender only: the first failure of an index write-out since the indexes last took one, once, or null. An index
    /// the disk refuses fails no append (<see cref="IndexEntries"/>); the partition logs this.
    /// </summary>
    public IOException? TakeIndexFailure() => _offsetIndex.TakeWriteOutFailure() ?? _timeIndex.TakeWriteOutFailure();

    /// <summary>
    /// Writes the index entries held in memory to their files, without fsync (appender only; see <see cref="IndexEntries"/>).
    /// The time index only after the offset index took its entries, so its file never holds entries the offset index's lacks.
    /// </summary>
    public void WriteOutIndexes()
    {
        if (_offsetIndex.TryWriteOut())
        {
            _timeIndex.TryWriteOut();
        }
    }

    private void IndexBatch(BatchPrefix prefix, long position, int indexIntervalBytes)
    {
        if (prefix.MaxTimestampMs > _largestTimestampMs)
        {
            Volatile.Write(ref _largestTimestampMs, prefix.MaxTimestampMs);
            _offsetOfLargestTimestamp = prefix.LastOffset;
        }

        // Kafka's rule: the first batch after more than index.interval.bytes of unindexed log gets an entry.
        if (_bytesSinceLastIndexEntry > indexIntervalBytes)
        {
            if (_offsetIndex.PendingCount >= IndexEntries.PendingEntriesMax)
            {
                // Both files at once: the time index never holds entries in the file that the offset index does not.
                WriteOutIndexes();
            }

            // An entry the disk refused is left out of both (IndexEntries); the next one is due after another interval.
            if (_offsetIndex.TryAppend(prefix.LastOffset, checked((int)position)))
            {
                _timeIndex.MaybeAppend(_largestTimestampMs, _offsetOfLargestTimestamp);
            }

            _bytesSinceLastIndexEntry = 0;
        }

        _bytesSinceLastIndexEntry += prefix.TotalSize;
    }

    /// <summary>
    /// Finds the first batch whose last offset is at least <paramref name="offset"/>: among the recent batches when they
    /// hold it, otherwise by reading prefixes from the file, starting from the index.
    /// </summary>
    private bool TryFindBatch(long offset, long sizeBytes, out long position, out BatchPrefix batch)
    {
        if (Volatile.Read(ref _recent) is { } recent && recent.TryFindByOffset(offset, sizeBytes, out position, out batch))
        {
            return true;
        }

        position = _offsetIndex.LookupPosition(offset);
        Span<byte> prefixBytes = stackalloc byte[BatchPrefix.Bytes];
        while (sizeBytes - position >= BatchPrefix.Bytes && _log.ReadAt(position, prefixBytes) == prefixBytes.Length)
        {
            batch = BatchPrefix.Read(prefixBytes);
            if (batch.TotalSize > sizeBytes - position)
            {
                break;
            }

            if (batch.LastOffset >= offset)
            {
                return true;
            }

            position += batch.TotalSize;
        }

        batch = default;
        return false;
    }

    private void TryTruncate(long length)
    {
        try
        {
            _log.Truncate(length);
        }
        catch (IOException)
        {
        }
    }
}
