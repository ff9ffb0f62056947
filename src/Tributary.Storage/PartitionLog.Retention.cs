using Tributary.Storage.Segments;

namespace Tributary.Storage;

/// <summary>Moving the log start offset (retention, DeleteRecords) and deleting the segments below it.</summary>
public sealed partial class PartitionLog
{
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

    /// <summary>
    /// Deletes the oldest segments that break retention.ms (their newest timestamp is too old) or retention.bytes
    /// (the partition would still be at least that large without them), when cleanup.policy includes delete. The
    /// active segment is never deleted.
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
            if (!config.Delete)
            {
                // cleanup.policy=compact alone: only the cleaner removes records.
                return 0;
            }

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

    private static long NewestTimeMs(LogSegment segment) =>
        // Without timestamps (producers may send -1), fall back to when the segment last took an append.
        segment.LargestTimestampMs >= 0 ? segment.LargestTimestampMs : segment.LastAppendMs;

    private void SetLogStartOffset(long offset)
    {
        // Persisted before segments are deleted, so a crash in between still starts from the new offset.
        LogStartOffsetCheckpoint.Write(_device, Directory, offset);
        Volatile.Write(ref _logStartOffset, offset);
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

        // Readers holding the old list read on from the renamed files until the delay is over (see DeleteSegmentLater).
        _segments = segments[count..];
        foreach (var segment in segments[..count])
        {
            DeleteSegmentLater(segment);
        }

        StorageLog.DeletedSegments(_logger, Topic, Partition, count, _logStartOffset);
        return count;
    }

    /// <summary>
    /// Removes a segment the log no longer lists (retention, DeleteRecords, truncation, the cleaner's replaced segments),
    /// as Kafka does: its files are renamed with the <c>.deleted</c> suffix now and removed after
    /// <c>file.delete.delay.ms</c>, and it stays open until then, so a reader that found it before it left the list
    /// reads on, a fetch's <c>sendfile</c> included. With no delay, or a log outside a log manager, it goes at once.
    /// Caller holds the append lock.
    /// </summary>
    private void DeleteSegmentLater(LogSegment segment)
    {
        var delayMs = _config.FileDeleteDelayMs;
        if (_deletions is null || delayMs == 0)
        {
            segment.Delete();
            return;
        }

        try
        {
            segment.ChangeFileSuffix(LogSegment.DeletedSuffix);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Files renamed before the failure keep their .deleted name; the next start removes them.
            StorageLog.SegmentRenameFailed(_logger, e, Topic, Partition, segment.BaseOffset);
            segment.Delete();
            return;
        }

        _deletions.Schedule(LogSegment.PathOf(Directory, segment.BaseOffset, LogSegment.LogSuffix + LogSegment.DeletedSuffix), delayMs, segment.Delete);
    }
}
