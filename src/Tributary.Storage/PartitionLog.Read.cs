using Tributary.Storage.Segments;

namespace Tributary.Storage;

/// <summary>Lock-free reads: batches from an offset, and lookups by timestamp.</summary>
public sealed partial class PartitionLog
{
    /// <summary>Attempts a read makes when retention deletes the segment it was reading; each retry sees the new state.</summary>
    private const int ReadAttemptsMax = 4;

    /// <summary>
    /// Reads whole stored batches starting with the one containing <paramref name="fetchOffset"/> (so the first batch
    /// may start before it, as in Kafka), within the limits of <paramref name="options"/>. Reads stay within one
    /// segment, so their cost is bounded by the byte budget plus one batch.
    /// </summary>
    public LogReadResult Read(long fetchOffset, in LogReadOptions options)
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
            var readLimit = Math.Min(options.UpToLogEnd ? logEndOffset : highWatermark, options.MaxOffset);
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
                    var reader = options.Reader;
                    if (segments[index].Read(fetchOffset, options.MaxBytes, options.MinOneBatch, readLimit, options.Buffers, active ? reader : null, out var records))
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
}
