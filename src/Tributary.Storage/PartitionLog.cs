using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Protocol;
using Tributary.Protocol.Records;
using Tributary.Storage.Devices;
using Tributary.Storage.Producers;
using Tributary.Storage.Segments;

namespace Tributary.Storage;

/// <summary>
/// The log of one topic partition: a list of segments, the last of which (the active segment) takes appends.
/// Appends are serialized by a per-partition lock; reads take no lock: they work on a snapshot of the segment list
/// and of the high watermark, and every field they read is published only after the bytes it describes are written.
/// </summary>
public sealed class PartitionLog : IDisposable
{
    /// <summary>Attempts a read makes when retention deletes the segment it was reading; each retry sees the new state.</summary>
    private const int ReadAttemptsMax = 4;

    /// <summary>Bytes read per step while rebuilding the producer state on open: bounds the memory the scan holds.</summary>
    private const int ProducerRebuildReadBytesMax = 1 << 20;

    private readonly ILogDevice _device;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _appendLock = new();
    private readonly Lock _flushLock = new();

    // One asynchronous flusher at a time (FlushAppendedAsync): the others wait without holding a thread, and find
    // their records covered by the flush before them when it ends.
    private readonly SemaphoreSlim _flushGate = new(1, 1);
    private volatile LogConfig _config;
    private volatile LogSegment[] _segments;
    private long _logStartOffset;
    private long _logEndOffset;
    private long _highWatermark;
    private long _flushedOffset;
    private long _lastFlushMs;
    private volatile bool _disposed;

    private PartitionLog(
        ILogDevice device, string directory, string topic, int partition, LogConfig config, TimeProvider time, ILogger logger)
    {
        _device = device;
        Directory = directory;
        Topic = topic;
        Partition = partition;
        _config = config;
        _time = time;
        _logger = logger;
        _segments = [];
    }

    /// <summary>
    /// Raised after each append, once its records are readable (after the high watermark moves), outside the append
    /// lock, and once more when the log is deleted. The broker uses it to wake fetches parked for new data (or on a
    /// deleted topic); handlers must be quick and must not throw.
    /// </summary>
    public event Action<PartitionLog>? Appended;

    public string Topic { get; }

    public int Partition { get; }

    /// <summary>The partition directory, <c>&lt;data dir&gt;/&lt;topic&gt;-&lt;partition&gt;</c>.</summary>
    public string Directory { get; }

    public LogConfig Config => _config;

    /// <summary>The first offset a consumer may fetch; earlier offsets were deleted (retention or DeleteRecords).</summary>
    /// <summary>True once the log is closed or deleted; readers holding it should look the partition up again.</summary>
    public bool IsDisposed => _disposed;

    public long LogStartOffset => Volatile.Read(ref _logStartOffset);

    /// <summary>The offset the next appended record gets.</summary>
    public long LogEndOffset => Volatile.Read(ref _logEndOffset);

    /// <summary>Offsets below this are visible to consumers. A single node has no followers, so it is the log end offset.</summary>
    public long HighWatermark => Volatile.Read(ref _highWatermark);

    /// <summary>
    /// Offsets below this are stable: below the first offset of the earliest open transaction, else the high
    /// watermark. read_committed consumers read up to here. The high watermark is read first: a transaction's first
    /// offset is published before the high watermark covers it and withdrawn only after its marker is covered.
    /// </summary>
    public long LastStableOffset
    {
        get
        {
            var highWatermark = HighWatermark;
            return Math.Min(highWatermark, Producers.FirstUnstableOffset);
        }
    }

    /// <summary>Producer ids, epochs, sequences and transactions of this partition (rebuilt from the log on open).</summary>
    public ProducerStateManager Producers { get; } = new();

    /// <summary>Total bytes of all segments.</summary>
    public long SizeBytes => _segments.Sum(s => s.SizeBytes);

    public int SegmentCount => _segments.Length;

    /// <summary>Base offsets of the segments, oldest first (the last one is the active segment).</summary>
    public IReadOnlyList<long> SegmentBaseOffsets => _segments.Select(s => s.BaseOffset).ToArray();

    internal static PartitionLog Open(
        ILogDevice device,
        string directory,
        string topic,
        int partition,
        LogConfig config,
        TimeProvider time,
        bool cleanShutdown,
        ILogger? logger = null)
    {
        config.Validate();
        var log = new PartitionLog(device, directory, topic, partition, config, time, logger ?? NullLogger.Instance);
        try
        {
            log.Load(cleanShutdown);
        }
        catch
        {
            log.Dispose();
            throw;
        }

        return log;
    }

    /// <summary>
    /// Appends one or more validated v2 batches (concatenated) and returns the offsets they got. The bytes are
    /// changed in place: each batch's base offset is set (it is outside the CRC), and when
    /// <paramref name="logAppendTimeMs"/> is given (topic config <c>message.timestamp.type=LogAppendTime</c>) the
    /// timestamp-type attribute and maxTimestamp are set to it and the CRC is recomputed. With
    /// <paramref name="deferFlush"/> the flush that <c>flush.messages</c> may ask for is left to the caller
    /// (<see cref="FlushAppendedAsync"/>).
    /// </summary>
    public LogAppendResult Append(Memory<byte> batches, long? logAppendTimeMs = null, bool deferFlush = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (batches.IsEmpty)
        {
            throw new ArgumentException("nothing to append", nameof(batches));
        }

        // Work that does not depend on the assigned offsets happens before taking the lock.
        var offsetCount = PrepareBatches(batches.Span, logAppendTimeMs);

        long firstOffset;
        long logStartOffset;
        lock (_appendLock)
        {
            (firstOffset, logStartOffset) = AppendLocked(batches);
        }

        return AfterAppend(firstOffset, offsetCount, logAppendTimeMs, logStartOffset, deferFlush);
    }

    /// <summary>
    /// The produce path: appends exactly one batch from a client after checking it against the producer state
    /// (<see cref="ProducerStateManager.Check"/>) under the same lock, so the check and the append are atomic. A
    /// duplicate of one of the producer's recent batches is not appended and answers with the original offsets.
    /// <paramref name="deferFlush"/> as for <see cref="Append"/>.
    /// </summary>
    public ProducerAppendResult AppendChecked(Memory<byte> batch, long? logAppendTimeMs = null, bool deferFlush = false) =>
        AppendChecked(batch, RecordBatchHeader.Read(batch.Span), logAppendTimeMs, deferFlush);

    /// <summary>
    /// As <see cref="AppendChecked(Memory{byte}, long?, bool)"/>, with the batch's header as the caller has read it
    /// already (the produce path's validation), so the append reads it no more.
    /// </summary>
    public ProducerAppendResult AppendChecked(Memory<byte> batch, in RecordBatchHeader header, long? logAppendTimeMs = null, bool deferFlush = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (header.TotalSize != batch.Length)
        {
            throw new ArgumentException("expected exactly one batch", nameof(batch));
        }

        long firstOffset;
        long logStartOffset;
        lock (_appendLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var (error, message) = Producers.Check(header, out var duplicate);
            if (error != ErrorCode.None)
            {
                return ProducerAppendResult.Failed(error, message ?? error.ToString());
            }

            if (duplicate is { } original)
            {
                return new ProducerAppendResult(ErrorCode.None, null, true, new LogAppendResult(original.FirstOffset, original.LastOffset, -1, _logStartOffset));
            }

            var stored = PrepareBatch(batch.Span, header, logAppendTimeMs);
            (firstOffset, logStartOffset) = AppendLocked(batch, stored);
        }

        return new ProducerAppendResult(ErrorCode.None, null, false, AfterAppend(firstOffset, header.LastOffsetDelta + 1L, logAppendTimeMs, logStartOffset, deferFlush));
    }

    /// <summary>
    /// As <see cref="Append(Memory{byte}, long?, bool)"/> for exactly one batch whose header the caller has read
    /// already (the produce path's validation), so the append reads it no more.
    /// </summary>
    public LogAppendResult Append(Memory<byte> batch, in RecordBatchHeader header, long? logAppendTimeMs = null, bool deferFlush = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (header.TotalSize != batch.Length)
        {
            throw new ArgumentException("expected exactly one batch", nameof(batch));
        }

        var stored = PrepareBatch(batch.Span, header, logAppendTimeMs);
        long firstOffset;
        long logStartOffset;
        lock (_appendLock)
        {
            (firstOffset, logStartOffset) = AppendLocked(batch, stored);
        }

        return AfterAppend(firstOffset, header.LastOffsetDelta + 1L, logAppendTimeMs, logStartOffset, deferFlush);
    }

    /// <param name="single">the header of <paramref name="batches"/> when it is one batch, as stored but for its base offset.</param>
    private (long FirstOffset, long LogStartOffset) AppendLocked(Memory<byte> batches, RecordBatchHeader? single = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var firstOffset = _logEndOffset;
        var nextOffset = firstOffset;
        var span = batches.Span;
        for (var cursor = 0; cursor < span.Length;)
        {
            var prefix = BatchPrefix.Read(span[cursor..]);
            RecordBatchHeader.WriteBaseOffset(span[cursor..], nextOffset);
            nextOffset += prefix.LastOffset - prefix.BaseOffset + 1;
            cursor += prefix.TotalSize;
        }

        var config = _config;
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var active = RollIfNeeded(batches.Length, nextOffset - 1, config, nowMs);
        active.Append(span, config.IndexIntervalBytes, nowMs);
        ReportIndexFailure(active);
        if (single is { } header)
        {
            Producers.OnAppended(batches, header with { BaseOffset = firstOffset });
        }
        else
        {
            TrackProducers(batches);
        }

        Volatile.Write(ref _logEndOffset, nextOffset);
        Volatile.Write(ref _highWatermark, nextOffset);
        Producers.PublishAfterHighWatermark();
        return (firstOffset, _logStartOffset);
    }

    /// <summary>Logs an index write-out the disk refused (the append itself stood); once until one succeeds again.</summary>
    private void ReportIndexFailure(LogSegment segment)
    {
        if (segment.TakeIndexFailure() is { } failure)
        {
            StorageLog.IndexWriteOutFailed(_logger, failure, Topic, Partition, segment.BaseOffset);
        }
    }

    private LogAppendResult AfterAppend(long firstOffset, long offsetCount, long? logAppendTimeMs, long logStartOffset, bool deferFlush)
    {
        var lastOffset = firstOffset + offsetCount - 1;
        RaiseAppended();

        if (!deferFlush && FlushDue(lastOffset))
        {
            FlushUpTo(lastOffset + 1);
        }

        return new LogAppendResult(firstOffset, lastOffset, logAppendTimeMs ?? -1, logStartOffset);
    }

    /// <summary>Whether records up to <paramref name="lastOffset"/> are owed a flush (<c>flush.messages</c> reached, not flushed yet).</summary>
    public bool FlushDue(long lastOffset) => lastOffset + 1 - Volatile.Read(ref _flushedOffset) >= _config.FlushIntervalMessages;

    /// <summary>
    /// The flush an append made with <c>deferFlush</c> owes, on a thread-pool thread; completes when records up to
    /// <paramref name="lastOffset"/> are on stable storage. Group commit: while one flush runs, the appends after it
    /// queue here, and the next flush covers all of them at once. Throws <see cref="IOException"/> when the flush fails.
    /// </summary>
    public async Task FlushAppendedAsync(long lastOffset)
    {
        if (!FlushDue(lastOffset))
        {
            return;
        }

        await _flushGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (FlushDue(lastOffset))
            {
                await Task.Run(() => FlushUpTo(lastOffset + 1)).ConfigureAwait(false);
            }
        }
        finally
        {
            _flushGate.Release();
        }
    }

    private void TrackProducers(ReadOnlyMemory<byte> batches)
    {
        for (var cursor = 0; cursor < batches.Length;)
        {
            var header = RecordBatchHeader.Read(batches.Span[cursor..]);
            Producers.OnAppended(batches.Slice(cursor, header.TotalSize), header);
            cursor += header.TotalSize;
        }
    }

    /// <summary>
    /// Reads whole stored batches starting with the one containing <paramref name="fetchOffset"/> (so the first batch
    /// may start before it, as in Kafka), at most <paramref name="maxBytes"/> of them but at least one whole batch
    /// when <paramref name="minOneBatch"/> (KIP-74), never at or beyond the high watermark. Reads stay within one
    /// segment, so their cost is bounded by maxBytes plus one batch.
    /// </summary>
    public LogReadResult Read(long fetchOffset, int maxBytes, bool minOneBatch = true) => Read(fetchOffset, maxBytes, minOneBatch, long.MaxValue);

    /// <summary>
    /// As <see cref="Read(long, int, bool)"/>, but never returning batches at or beyond <paramref name="maxOffset"/>
    /// either (read_committed passes the last stable offset, which is always a batch boundary).
    /// </summary>
    public LogReadResult Read(long fetchOffset, int maxBytes, bool minOneBatch, long maxOffset) => Read(fetchOffset, maxBytes, minOneBatch, maxOffset, null);

    /// <summary>
    /// As <see cref="Read(long, int, bool, long)"/>, for a fetch: large batches stay in the segment file until the
    /// response is written (<see cref="Segments.SegmentRecords"/>), small ones land in an array rented from
    /// <paramref name="buffers"/> (the caller returns it once the records are no longer referenced) instead of a new one.
    /// A read that returns records tells the active segment's file where <paramref name="reader"/> (a connection) is,
    /// or that it is still in an older segment, for the drop of pages its readers have passed
    /// (<see cref="Devices.ILogFile.OnRead"/>).
    /// </summary>
    public LogReadResult Read(long fetchOffset, int maxBytes, bool minOneBatch, long maxOffset, ReadBuffers? buffers, string? reader = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var logStartOffset = LogStartOffset;
            var highWatermark = HighWatermark;
            var logEndOffset = LogEndOffset;
            var segments = _segments;
            if (fetchOffset < logStartOffset || fetchOffset > logEndOffset)
            {
                return new LogReadResult(LogReadStatus.OffsetOutOfRange, ReadOnlyMemory<byte>.Empty, highWatermark, logStartOffset, logEndOffset);
            }

            var empty = new LogReadResult(LogReadStatus.Ok, ReadOnlyMemory<byte>.Empty, highWatermark, logStartOffset, logEndOffset);
            var readLimit = Math.Min(highWatermark, maxOffset);
            if (fetchOffset >= readLimit)
            {
                return empty;
            }

            var index = FindSegmentIndex(segments, fetchOffset);
            if (index < 0)
            {
                // Retention removed the segment after we read the log start offset; looking again sees the new start.
                if (attempt >= ReadAttemptsMax)
                {
                    throw new InvalidOperationException($"no segment holds offset {fetchOffset} although it is in range");
                }

                continue;
            }

            try
            {
                for (; index < segments.Length; index++)
                {
                    // Only the active segment drops pages behind its readers, so only it is told where they are.
                    var active = index == segments.Length - 1;
                    if (segments[index].Read(fetchOffset, maxBytes, minOneBatch, readLimit, buffers, active ? reader : null, out var records))
                    {
                        if (reader is not null && !active && !records.IsEmpty)
                        {
                            segments[^1].OnReaderBehind(reader); // it has all of the active segment still to read
                        }

                        return empty with { Records = records };
                    }
                }

                return empty;
            }
            catch (ObjectDisposedException) when (attempt < ReadAttemptsMax && !_disposed)
            {
                // The segment was deleted under us (retention or DeleteRecords); the next attempt sees the new state.
            }
        }
    }

    /// <summary>
    /// For ListOffsets by timestamp: the base offset of the earliest batch whose maxTimestamp is at or after
    /// <paramref name="timestampMs"/>, or null when there is none. Batch granularity: the batch may also hold
    /// records with earlier timestamps (the log does not decode records).
    /// </summary>
    public long? FirstOffsetAtOrAfterTimestamp(long timestampMs)
    {
        for (var attempt = 1; ; attempt++)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var logStartOffset = LogStartOffset;
            var highWatermark = HighWatermark;
            try
            {
                foreach (var segment in _segments)
                {
                    if (segment.NextOffset <= logStartOffset)
                    {
                        continue;
                    }

                    if (segment.FindOffsetByTimestamp(timestampMs, highWatermark) is { } offset)
                    {
                        return Math.Max(offset, logStartOffset);
                    }
                }

                return null;
            }
            catch (ObjectDisposedException) when (attempt < ReadAttemptsMax && !_disposed)
            {
                // A segment was deleted under us; the next attempt sees the new segment list and start offset.
            }
        }
    }

    /// <summary>
    /// For ListOffsets with MAX_TIMESTAMP (-3): the largest batch maxTimestamp and the base offset of the first batch
    /// that carries it, or (-1, -1) when the log has no timestamps.
    /// </summary>
    public (long Offset, long Timestamp) MaxTimestamp()
    {
        var largestMs = -1L;
        foreach (var segment in _segments)
        {
            if (segment.NextOffset > LogStartOffset)
            {
                largestMs = Math.Max(largestMs, segment.LargestTimestampMs);
            }
        }

        if (largestMs < 0)
        {
            return (-1, -1);
        }

        return FirstOffsetAtOrAfterTimestamp(largestMs) is { } offset ? (offset, largestMs) : (-1, -1);
    }

    /// <summary>
    /// DeleteRecords: moves the log start offset up to <paramref name="offset"/> (-1 means the high watermark),
    /// persists it, and deletes the segments entirely below it. Returns the new low watermark. An offset below the
    /// current log start offset changes nothing.
    /// </summary>
    public long DeleteRecordsBefore(long offset)
    {
        lock (_appendLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (offset == -1)
            {
                offset = _highWatermark;
            }

            ArgumentOutOfRangeException.ThrowIfNegative(offset);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, _highWatermark);
            if (offset > _logStartOffset)
            {
                SetLogStartOffset(offset);
            }

            DeleteSegmentsBelowLogStartOffset();
            return _logStartOffset;
        }
    }

    /// <summary>Makes everything appended so far survive power loss.</summary>
    public void Flush() => FlushUpTo(LogEndOffset);

    /// <summary>Flushes when <see cref="LogConfig.FlushIntervalMs"/> has passed since the last flush and there is something to flush.</summary>
    public void FlushIfDue()
    {
        var config = _config;
        if (config.FlushIntervalMs == long.MaxValue || _disposed)
        {
            return;
        }

        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (nowMs - Volatile.Read(ref _lastFlushMs) >= config.FlushIntervalMs && LogEndOffset > Volatile.Read(ref _flushedOffset))
        {
            Flush();
        }
    }

    public void UpdateConfig(LogConfig config)
    {
        config.Validate();
        _config = config;
    }

    /// <summary>
    /// Deletes the oldest segments that break retention.ms (their newest timestamp is too old) or retention.bytes
    /// (the partition would still be at least that large without them). The active segment is never deleted.
    /// Returns how many segments were deleted.
    /// </summary>
    public int ApplyRetention()
    {
        lock (_appendLock)
        {
            if (_disposed)
            {
                return 0;
            }

            var config = _config;
            var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
            var segments = _segments;
            var deletable = segments.Length - 1;
            var count = 0;
            if (config.RetentionMs >= 0)
            {
                while (count < deletable && nowMs - NewestTimeMs(segments[count]) > config.RetentionMs)
                {
                    count++;
                }
            }

            if (config.RetentionBytes >= 0)
            {
                var excessBytes = segments.Skip(count).Sum(s => s.SizeBytes) - config.RetentionBytes;
                while (count < deletable && excessBytes - segments[count].SizeBytes >= 0)
                {
                    excessBytes -= segments[count].SizeBytes;
                    count++;
                }
            }

            if (count == 0)
            {
                return 0;
            }

            if (segments[count].BaseOffset > _logStartOffset)
            {
                SetLogStartOffset(segments[count].BaseOffset);
            }

            return DeleteSegmentsBelowLogStartOffset();
        }
    }

    /// <summary>Flushes and closes the files; the time index of the active segment gets its final entry.</summary>
    public void Close()
    {
        lock (_appendLock)
        {
            if (_disposed)
            {
                return;
            }

            try
            {
                _segments[^1].OnBecomeInactive();

                // Flushed even when no records are pending: the final time-index entry just written must be on disk
                // before the clean-shutdown marker promises that indexes and logs agree.
                lock (_flushLock)
                {
                    var flushedOffset = Volatile.Read(ref _flushedOffset);
                    foreach (var segment in _segments)
                    {
                        if (segment.NextOffset >= flushedOffset || segment == _segments[^1])
                        {
                            segment.Flush();
                        }
                    }
                }
            }
            finally
            {
                // A flush the disk refused still closes the files (the caller then writes no clean-shutdown marker).
                DisposeSegments();
            }
        }
    }

    /// <summary>Closes the files without flushing (as after a crash, what is in the page cache stays).</summary>
    public void Dispose()
    {
        lock (_appendLock)
        {
            DisposeSegments();
        }
    }

    /// <summary>Closes the files and removes the directory; then wakes the <see cref="Appended"/> listeners, who find the log gone.</summary>
    internal void DeleteFiles()
    {
        Dispose();
        try
        {
            _device.DeleteDirectory(Directory);
        }
        finally
        {
            RaiseAppended();
        }
    }

    private static long NewestTimeMs(LogSegment segment) =>
        // Without timestamps (producers may send -1), fall back to when the segment last took an append.
        segment.LargestTimestampMs >= 0 ? segment.LargestTimestampMs : segment.LastAppendMs;

    private static int FindSegmentIndex(LogSegment[] segments, long offset)
    {
        var low = 0;
        var high = segments.Length - 1;
        var found = -1;
        while (low <= high)
        {
            var middle = low + ((high - low) / 2);
            if (segments[middle].BaseOffset <= offset)
            {
                found = middle;
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        return found;
    }

    /// <summary>Walks the batches, checking they are whole, and applies LogAppendTime. Returns how many offsets they need.</summary>
    private static long PrepareBatches(Span<byte> batches, long? logAppendTimeMs)
    {
        long offsetCount = 0;
        for (var cursor = 0; cursor < batches.Length;)
        {
            var batch = batches[cursor..];
            var header = RecordBatchHeader.Read(batch);
            if (header.TotalSize > batch.Length)
            {
                throw new ArgumentException(
                    $"batch at byte {cursor} declares {header.TotalSize} bytes but only {batch.Length} remain", nameof(batches));
            }

            PrepareBatch(batch[..header.TotalSize], header, logAppendTimeMs);
            offsetCount += header.LastOffsetDelta + 1L;
            cursor += header.TotalSize;
        }

        return offsetCount;
    }

    /// <summary>Applies <paramref name="logAppendTimeMs"/> to one whole batch, if given; returns its header as stored.</summary>
    private static RecordBatchHeader PrepareBatch(Span<byte> batch, in RecordBatchHeader header, long? logAppendTimeMs)
    {
        if (logAppendTimeMs is not { } appendTimeMs)
        {
            return header;
        }

        // Kafka's LogAppendTime: the broker's time replaces maxTimestamp and the timestamp-type bit is set; both are
        // covered by the CRC, so it is recomputed.
        var attributes = (short)(header.Attributes | RecordBatchHeader.TimestampTypeFlag);
        BinaryPrimitives.WriteInt16BigEndian(batch[RecordBatchHeader.AttributesOffset..], attributes);
        BinaryPrimitives.WriteInt64BigEndian(batch[RecordBatchHeader.MaxTimestampOffset..], appendTimeMs);
        var crc = RecordBatchHeader.ComputeCrc(batch);
        BinaryPrimitives.WriteUInt32BigEndian(batch[RecordBatchHeader.CrcOffset..], crc);
        return header with { Attributes = attributes, MaxTimestamp = appendTimeMs, Crc = crc };
    }

    private void Load(bool cleanShutdown)
    {
        if (!_device.DirectoryExists(Directory))
        {
            _device.CreateDirectory(Directory);
        }

        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var files = _device.ListFiles(Directory);
        var baseOffsets = new SortedSet<long>();
        foreach (var name in files)
        {
            if (LogSegment.TryParseBaseOffset(name, LogSegment.LogSuffix, out var baseOffset))
            {
                baseOffsets.Add(baseOffset);
            }
            else if (name.EndsWith(LogStartOffsetCheckpoint.TempSuffix, StringComparison.Ordinal))
            {
                // A checkpoint write that did not reach its rename.
                _device.DeleteFile(Path.Combine(Directory, name));
            }
        }

        // Index files whose log is gone (a crash in the middle of deleting a segment).
        foreach (var name in files)
        {
            if ((LogSegment.TryParseBaseOffset(name, LogSegment.IndexSuffix, out var baseOffset)
                    || LogSegment.TryParseBaseOffset(name, LogSegment.TimeIndexSuffix, out baseOffset))
                && !baseOffsets.Contains(baseOffset))
            {
                _device.DeleteFile(Path.Combine(Directory, name));
            }
        }

        var checkpoint = LogStartOffsetCheckpoint.Read(_device, Directory);
        var segments = new List<LogSegment>();
        var ordered = baseOffsets.ToArray();
        var recovered = false;
        for (var i = 0; i < ordered.Length; i++)
        {
            var segment = LogSegment.Open(_device, Directory, ordered[i], nowMs, out var indexFilesMissing);
            segments.Add(segment);
            var isLast = i == ordered.Length - 1;

            // After a crash only the tail can be torn (earlier segments were complete when the log rolled past them);
            // any segment whose indexes do not fit its log is rebuilt as well.
            if ((!cleanShutdown && isLast) || indexFilesMissing || !segment.TryLoad())
            {
                recovered = true;
                var truncatedBytes = segment.Recover(_config.IndexIntervalBytes, out var problem);
                if (problem is not null)
                {
                    StorageLog.TruncatedSegment(_logger, Topic, Partition, segment.BaseOffset, truncatedBytes, problem);
                }
                else if (cleanShutdown || !isLast)
                {
                    StorageLog.RebuiltIndexes(_logger, Topic, Partition, segment.BaseOffset);
                }

                if (!isLast)
                {
                    // As at a roll: a segment that takes no more appends gets its final time-index entry.
                    segment.OnBecomeInactive();
                }

                ReportIndexFailure(segment);
                if (problem is not null && !isLast)
                {
                    // Offsets after a cut must not resume in a later segment: that would leave a hole in the log.
                    for (var j = i + 1; j < ordered.Length; j++)
                    {
                        LogSegment.Open(_device, Directory, ordered[j], nowMs, out _).Delete();
                        StorageLog.DeletedSegmentAfterTruncation(_logger, Topic, Partition, ordered[j]);
                    }

                    break;
                }
            }
        }

        if (segments.Count == 0)
        {
            segments.Add(LogSegment.Create(_device, Directory, Math.Max(0, checkpoint ?? 0), nowMs));
        }

        if (recovered)
        {
            // What recovery kept is now the durable truth; make it so before acknowledging anything on top of it.
            foreach (var segment in segments)
            {
                segment.Flush();
            }
        }

        _segments = [.. segments];
        _logEndOffset = segments[^1].NextOffset;
        _highWatermark = _logEndOffset;
        _flushedOffset = _logEndOffset;
        _lastFlushMs = nowMs;
        _logStartOffset = Math.Clamp(checkpoint ?? 0, segments[0].BaseOffset, _logEndOffset);
        DeleteSegmentsBelowLogStartOffset();
        RebuildProducerState();
    }

    /// <summary>Replays every batch header from the log start offset into the producer state (no snapshot files yet).</summary>
    private void RebuildProducerState()
    {
        var offset = _logStartOffset;
        while (offset < _highWatermark)
        {
            var read = Read(offset, ProducerRebuildReadBytesMax);
            if (read.Status != LogReadStatus.Ok || read.Records.IsEmpty)
            {
                break;
            }

            for (var remaining = read.Records; !remaining.IsEmpty;)
            {
                var header = RecordBatchHeader.Read(remaining.Span);
                if (header.LastOffset >= offset)
                {
                    Producers.OnAppended(remaining[..header.TotalSize], header);
                    offset = header.NextOffset;
                }

                remaining = remaining[header.TotalSize..];
            }
        }

        Producers.PublishAfterHighWatermark();
    }

    private LogSegment RollIfNeeded(int appendBytes, long lastOffset, LogConfig config, long nowMs)
    {
        var active = _segments[^1];
        if (active.SizeBytes == 0)
        {
            return active;
        }

        var full = active.SizeBytes > config.SegmentBytes - appendBytes;
        var old = nowMs - active.FirstAppendMs >= config.SegmentMs;

        // Index entries hold offsets relative to the base offset as int32.
        var offsetsOverflow = lastOffset - active.BaseOffset > int.MaxValue;
        if (!full && !old && !offsetsOverflow)
        {
            return active;
        }

        active.OnBecomeInactive();
        ReportIndexFailure(active);
        var rolled = LogSegment.Create(_device, Directory, _logEndOffset, nowMs);
        _segments = [.. _segments, rolled];
        return rolled;
    }

    /// <summary>
    /// Group commit: appenders that need a flush queue here; the first one flushes everything appended so far, and
    /// those whose records that flush covered return without flushing again.
    /// </summary>
    private void FlushUpTo(long offset)
    {
        lock (_flushLock)
        {
            var flushedOffset = Volatile.Read(ref _flushedOffset);
            if (flushedOffset >= offset || _disposed)
            {
                return;
            }

            var target = LogEndOffset;
            foreach (var segment in _segments)
            {
                // >=: a segment that ends exactly at the flushed offset may have been rolled since, and rolling wrote
                // its final time-index entry.
                if (segment.NextOffset >= flushedOffset || segment == _segments[^1])
                {
                    try
                    {
                        if (segment == _segments[^1])
                        {
                            segment.FlushRecords();
                        }
                        else
                        {
                            segment.Flush();
                        }
                    }
                    catch (ObjectDisposedException) when (!_disposed)
                    {
                        // Deleted by retention meanwhile: nothing of it needs to survive.
                    }
                }
            }

            Volatile.Write(ref _flushedOffset, target);
            Volatile.Write(ref _lastFlushMs, _time.GetUtcNow().ToUnixTimeMilliseconds());
        }
    }

    private void SetLogStartOffset(long offset)
    {
        // Persisted before segments are deleted, so a crash in between still starts from the new offset.
        LogStartOffsetCheckpoint.Write(_device, Directory, offset);
        Volatile.Write(ref _logStartOffset, offset);
        Producers.OnLogStartOffset(offset);
    }

    /// <summary>Deletes segments whose every offset is below the log start offset. Caller holds the append lock.</summary>
    private int DeleteSegmentsBelowLogStartOffset()
    {
        var segments = _segments;
        var count = 0;
        while (count < segments.Length - 1 && segments[count + 1].BaseOffset <= _logStartOffset)
        {
            count++;
        }

        if (count == 0)
        {
            return 0;
        }

        // Readers holding the old list may still touch a deleted segment; they catch the disposal and retry.
        _segments = segments[count..];
        foreach (var segment in segments[..count])
        {
            segment.Delete();
        }

        StorageLog.DeletedSegments(_logger, Topic, Partition, count, _logStartOffset);
        return count;
    }

    private void RaiseAppended()
    {
        try
        {
            Appended?.Invoke(this);
        }
        catch (Exception e)
        {
            StorageLog.AppendListenerFailed(_logger, e, Topic, Partition);
        }
    }

    private void DisposeSegments()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        lock (_flushLock)
        {
            foreach (var segment in _segments)
            {
                segment.Dispose();
            }
        }
    }
}
