using System.Buffers.Binary;
using Tributary.Protocol;
using Tributary.Protocol.Records;
using Tributary.Storage.Producers;
using Tributary.Storage.Segments;

namespace Tributary.Storage;

/// <summary>Appending (under the append lock), segment rolls and the flush policy, with group commit.</summary>
public sealed partial class PartitionLog
{
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
    /// duplicate of one of the producer's recent batches is not appended and answers with the original offsets. A
    /// transaction marker (control batch) is checked against the coordinator epoch of the producer's last marker.
    /// <paramref name="deferFlush"/> as for <see cref="Append(Memory{byte}, long?, bool)"/>.
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
            var marker = header.IsControl ? ProducerStateManager.ReadMarker(batch) : null;
            var (error, message) = Producers.Check(header, marker, out var duplicate);
            if (error == ErrorCode.OutOfOrderSequenceNumber && _lastWriteFailed)
            {
                // The gap is the batch before it that the disk refused: this one is not stored either, and is retried
                // as that one is. OUT_OF_ORDER_SEQUENCE_NUMBER would make librdkafka bump the producer's epoch, and
                // the possibly stored batches it retries on other partitions would then be written twice.
                return ProducerAppendResult.Failed(ErrorCode.KafkaStorageError, $"{message}: the log's last write failed, so the batch before it is not stored");
            }

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
        var leaderEpoch = _leaderEpoch;
        if (leaderEpoch < 0 && _replicated)
        {
            throw new NotLeaderException(Topic, Partition);
        }

        var firstOffset = _logEndOffset;
        var nextOffset = firstOffset;
        var span = batches.Span;
        for (var cursor = 0; cursor < span.Length;)
        {
            var prefix = BatchPrefix.Read(span[cursor..]);
            RecordBatchHeader.WriteBaseOffset(span[cursor..], nextOffset);
            if (leaderEpoch >= 0)
            {
                // Kafka's leader stamps its epoch on each batch it appends (outside the CRC); followers copy it.
                BinaryPrimitives.WriteInt32BigEndian(span[(cursor + RecordBatchHeader.PartitionLeaderEpochOffset)..], leaderEpoch);
            }

            nextOffset += prefix.LastOffset - prefix.BaseOffset + 1;
            cursor += prefix.TotalSize;
        }

        var active = WriteToActiveSegment(span, nextOffset - 1);
        if (single is { } header)
        {
            if (Producers.OnAppended(batches, header with { BaseOffset = firstOffset }) is { } aborted)
            {
                active.TxnIndex.Append(aborted);
            }
        }
        else
        {
            TrackProducers(batches, active);
        }

        Volatile.Write(ref _logEndOffset, nextOffset);
        if (!_replicated)
        {
            Volatile.Write(ref _highWatermark, nextOffset);
            Producers.PublishAfterHighWatermark();
        }

        return (firstOffset, _logStartOffset);
    }

    /// <summary>Writes batches whose offsets are set, up to <paramref name="lastOffset"/>, to the active segment (rolled if due). Caller holds the append lock.</summary>
    private LogSegment WriteToActiveSegment(ReadOnlySpan<byte> batches, long lastOffset)
    {
        var config = _config;
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        LogSegment active;
        try
        {
            active = RollIfNeeded(batches.Length, lastOffset, config, nowMs);
            active.Append(batches, config.IndexIntervalBytes, nowMs);
        }
        catch (IOException)
        {
            _lastWriteFailed = true;
            throw;
        }

        _lastWriteFailed = false;
        ReportIndexFailure(active);
        return active;
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

    private void TrackProducers(ReadOnlyMemory<byte> batches, LogSegment active)
    {
        for (var cursor = 0; cursor < batches.Length;)
        {
            var header = RecordBatchHeader.Read(batches.Span[cursor..]);
            if (Producers.OnAppended(batches.Slice(cursor, header.TotalSize), header) is { } aborted)
            {
                active.TxnIndex.Append(aborted);
            }

            cursor += header.TotalSize;
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

    private LogSegment RollIfNeeded(int appendBytes, long lastOffset, LogConfig config, long nowMs)
    {
        var active = _segments[^1];
        if (active.SizeBytes == 0)
        {
            return active;
        }

        var full = active.SizeBytes > config.SegmentBytes - appendBytes;

        // Kafka's LogConfig.maxSegmentMs: a compacted log rolls by max.compaction.lag.ms too, since the active segment is
        // never cleaned and its records would otherwise outlive that bound.
        var rollMs = config.Compact ? Math.Min(config.SegmentMs, config.MaxCompactionLagMs) : config.SegmentMs;
        var old = nowMs - active.FirstAppendMs >= rollMs;

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

        // As Kafka does at a roll: the next start after a crash replays from here at most (once this is flushed).
        TakeSnapshot(sync: false);
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
}
