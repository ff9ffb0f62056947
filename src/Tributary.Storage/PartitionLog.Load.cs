using Tributary.Protocol.Records;
using Tributary.Storage.Segments;

namespace Tributary.Storage;

/// <summary>Opening a partition directory: segment recovery after a crash and the producer-state rebuild.</summary>
public sealed partial class PartitionLog
{
    /// <summary>Bytes read per step while rebuilding the producer state on open: bounds the memory the scan holds.</summary>
    private const int ProducerRebuildReadBytesMax = 1 << 20;

    private void Load(bool cleanShutdown)
    {
        if (!_device.DirectoryExists(Directory))
        {
            _device.CreateDirectory(Directory);
        }

        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var baseOffsets = SegmentBaseOffsetsOnDisk();
        var checkpoint = LogStartOffsetCheckpoint.Read(_device, Directory);
        var segments = OpenSegments(baseOffsets, cleanShutdown, nowMs);
        if (segments.Count == 0)
        {
            segments.Add(LogSegment.Create(_device, Directory, Math.Max(0, checkpoint ?? 0), nowMs));
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

    /// <summary>The base offsets of the segment logs in the directory, oldest first; deletes files a crash left behind.</summary>
    private long[] SegmentBaseOffsetsOnDisk()
    {
        if (Cleaning.SegmentSwap.Recover(_device, Directory) is var swaps and > 0)
        {
            StorageLog.FinishedSwaps(_logger, Topic, Partition, swaps);
        }

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

        return baseOffsets.ToArray();
    }

    /// <summary>
    /// Opens the segments, scanning and cutting those that need recovery; a cut in an earlier segment deletes the
    /// later ones. Flushes what recovery cut or rebuilt, except a tail that was found whole.
    /// </summary>
    private List<LogSegment> OpenSegments(long[] ordered, bool cleanShutdown, long nowMs)
    {
        var segments = new List<LogSegment>();
        var changed = new List<LogSegment>();
        for (var i = 0; i < ordered.Length; i++)
        {
            var segment = LogSegment.Open(_device, Directory, ordered[i], nowMs, out var indexFilesMissing);
            segments.Add(segment);
            var isLast = i == ordered.Length - 1;

            // After a crash only the tail can be torn (earlier segments were complete when the log rolled past them);
            // any segment whose indexes do not fit its log is rebuilt as well.
            if ((!cleanShutdown && isLast) || indexFilesMissing || !segment.TryLoad())
            {
                var truncatedBytes = segment.Recover(_config.IndexIntervalBytes, out var problem);

                // The tail scanned after a crash and found whole changed nothing but its indexes, which every start after
                // a crash rebuilds again and a clean close flushes: no fsync for it, so a restart after kill -9 costs a
                // scan per partition, not three fsyncs. A cut, or an earlier segment's rebuilt indexes, must be durable.
                if (problem is not null || !isLast)
                {
                    changed.Add(segment);
                }
                else
                {
                    segment.WriteOutIndexes();
                }

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

        // What recovery cut or rebuilt is now the durable truth; make it so before acknowledging anything on top of it.
        foreach (var segment in changed)
        {
            segment.Flush();
        }

        return segments;
    }

    /// <summary>Replays every batch header from the log start offset into the producer state (no snapshot files yet).</summary>
    private void RebuildProducerState()
    {
        var offset = _logStartOffset;
        while (offset < _highWatermark)
        {
            var read = Read(offset, new LogReadOptions(ProducerRebuildReadBytesMax));
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
}
