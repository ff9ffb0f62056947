using Tributary.Protocol.Records;
using Tributary.Storage.Cleaning;
using Tributary.Storage.Segments;

namespace Tributary.Storage;

/// <summary>Log compaction: what is cleanable, the key map, rewriting closed segments and swapping them in.</summary>
public sealed partial class PartitionLog
{
    /// <summary>Bytes the cleaner reads from a segment at once (a larger batch is read whole).</summary>
    private const int CleanerReadChunkBytes = 1 << 20;

    // One clean of this log at a time, whichever cleaner thread runs it.
    private readonly Lock _cleanLock = new();

    // Where the next clean starts building its key map; LogManager keeps it in cleaner-offset-checkpoint across restarts.
    private long _firstDirtyOffset;

    /// <summary>Where the next clean starts building its key map: everything below was cleaned.</summary>
    internal long FirstDirtyOffset => Volatile.Read(ref _firstDirtyOffset);

    /// <summary>
    /// Takes the cleaner's checkpointed offset at start. Kafka's rule: an offset past the log end (a tail cut at
    /// recovery) is not trusted, and the log is cleaned from its start; false then.
    /// </summary>
    internal bool RestoreFirstDirtyOffset(long offset)
    {
        if (offset < 0 || offset > LogEndOffset)
        {
            return false;
        }

        Volatile.Write(ref _firstDirtyOffset, offset);
        return true;
    }

    /// <summary>
    /// The part of the log the cleaner may clean now, or null when cleanup.policy does not include compact. The
    /// active segment, segments holding offsets at or past the last stable offset, and segments (with all after them)
    /// holding a record younger than min.compaction.lag.ms are not cleanable.
    /// </summary>
    public CleanableRange? GetCleanableRange()
    {
        var config = _config;
        if (!config.Compact || _disposed)
        {
            return null;
        }

        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var segments = _segments;
        var lastStableOffset = LastStableOffset;
        var firstDirty = Math.Max(Volatile.Read(ref _firstDirtyOffset), LogStartOffset);
        long cleanBytes = 0;
        long dirtyBytes = 0;
        var endOffset = segments[0].BaseOffset;
        LogSegment? firstDirtySegment = null;
        for (var i = 0; i < segments.Length - 1; i++)
        {
            var segment = segments[i];
            if (segment.NextOffset > lastStableOffset || nowMs - NewestTimeMs(segment) < config.MinCompactionLagMs)
            {
                break;
            }

            if (segment.NextOffset <= firstDirty)
            {
                cleanBytes += segment.SizeBytes;
            }
            else
            {
                dirtyBytes += segment.SizeBytes;
                firstDirtySegment ??= segment;
            }

            endOffset = segment.NextOffset;
        }

        var maxLagExceeded = false;
        if (firstDirtySegment is not null && config.MaxCompactionLagMs < long.MaxValue)
        {
            try
            {
                var firstTimestampMs = firstDirtySegment.FirstBatchTimestampMs();
                maxLagExceeded = firstTimestampMs >= 0 && nowMs - firstTimestampMs > config.MaxCompactionLagMs;
            }
            catch (ObjectDisposedException)
            {
                // Retention deleted it meanwhile; the next look sees the new state.
            }
        }

        return new CleanableRange(firstDirty, endOffset, cleanBytes, dirtyBytes, maxLagExceeded);
    }

    /// <summary>
    /// Cleans the log once: builds <paramref name="map"/> over the dirty range (stopping at a batch boundary when the map
    /// fills), then rewrites the closed segments below where the map ends, merging neighbours while they fit in
    /// segment.bytes, and swaps each group in. Appends go on meanwhile: the append lock is held only for the swap.
    /// Returns null when there was nothing dirty to clean.
    /// </summary>
    internal CleanResult? Clean(OffsetMap map, CleanerThrottle throttle)
    {
        lock (_cleanLock)
        {
            var range = GetCleanableRange();
            if (range is not { DirtyBytes: > 0 })
            {
                return null;
            }

            var config = _config;
            var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
            var segments = _segments;
            var compactor = new BatchCompactor(AbortedTransactions(0, long.MaxValue));
            long bytesRead = 0;
            void OnRead(int bytes)
            {
                bytesRead += bytes;
                throttle.Acquire(bytes);
            }

            map.Clear();
            var mapEnd = BuildOffsetMap(segments, range, map, compactor, OnRead);
            if (mapEnd <= range.FirstDirtyOffset)
            {
                return null;
            }

            var rules = new CompactionRules(map, mapEnd, nowMs, config.DeleteRetentionMs, Producers.LastBatchOffsets());
            var toClean = segments[..^1].TakeWhile(s => s.BaseOffset < mapEnd).ToList();
            long bytesBefore = 0;
            long bytesAfter = 0;
            long recordsRemoved = 0;
            var replaced = 0;
            foreach (var group in GroupForCleaning(toClean, config.SegmentBytes))
            {
                var before = group.Sum(s => s.SizeBytes);
                var outcome = CleanGroup(group, rules, compactor, config, nowMs, OnRead, throttle);
                bytesBefore += before;
                bytesAfter += outcome.SizeBytes;
                recordsRemoved += outcome.RecordsRemoved;
                replaced += outcome.Swapped ? group.Count : 0;
            }

            Volatile.Write(ref _firstDirtyOffset, mapEnd);
            var result = new CleanResult(Topic, Partition, bytesRead, bytesBefore, bytesAfter, recordsRemoved, replaced, mapEnd);
            StorageLog.Cleaned(_logger, Topic, Partition, replaced, bytesBefore, bytesAfter, recordsRemoved, mapEnd);
            return result;
        }
    }

    /// <summary>Adds the keys of the dirty range to the map; returns the offset it covers up to.</summary>
    private static long BuildOffsetMap(LogSegment[] segments, CleanableRange range, OffsetMap map, BatchCompactor compactor, Action<int> onRead)
    {
        var mapEnd = range.FirstDirtyOffset;
        foreach (var segment in segments[..^1])
        {
            if (segment.NextOffset <= range.FirstDirtyOffset)
            {
                continue;
            }

            if (segment.BaseOffset >= range.EndOffset)
            {
                break;
            }

            foreach (var batch in segment.ReadBatches(CleanerReadChunkBytes, onRead))
            {
                var header = RecordBatchHeader.Read(batch.Span);
                if (header.LastOffset < range.FirstDirtyOffset)
                {
                    continue;
                }

                // Kafka's rule: a full map cleans up to the offset it covered; the rest waits for the next clean.
                if (map.IsFull)
                {
                    return mapEnd;
                }

                compactor.AddKeys(batch, map);
                mapEnd = header.NextOffset;
            }
        }

        return mapEnd;
    }

    /// <summary>
    /// Consecutive segments merged into one while their sizes add up to at most segment.bytes and their offsets fit
    /// the index's 32-bit relative offsets (Kafka's groupSegmentsBySize).
    /// </summary>
    private static List<List<LogSegment>> GroupForCleaning(List<LogSegment> segments, int segmentBytes)
    {
        var groups = new List<List<LogSegment>>();
        var i = 0;
        while (i < segments.Count)
        {
            var group = new List<LogSegment> { segments[i] };
            var size = segments[i].SizeBytes;
            i++;
            while (i < segments.Count && size + segments[i].SizeBytes <= segmentBytes
                && segments[i].NextOffset - 1 - group[0].BaseOffset <= int.MaxValue)
            {
                size += segments[i].SizeBytes;
                group.Add(segments[i]);
                i++;
            }

            groups.Add(group);
        }

        return groups;
    }

    private readonly record struct GroupOutcome(long SizeBytes, long RecordsRemoved, bool Swapped);

    /// <summary>Writes the cleaned replacement of <paramref name="group"/> and swaps it in (see <see cref="SegmentSwap"/>).</summary>
    private GroupOutcome CleanGroup(List<LogSegment> group, CompactionRules rules, BatchCompactor compactor, LogConfig config, long nowMs, Action<int> onRead, CleanerThrottle throttle)
    {
        var baseOffset = group[0].BaseOffset;
        var cleaned = LogSegment.CreateWithSuffix(_device, Directory, baseOffset, nowMs, SegmentSwap.CleanedSuffix);
        var committed = false;
        try
        {
            long removed = 0;
            var changed = group.Count > 1;
            foreach (var segment in group)
            {
                foreach (var batch in segment.ReadBatches(CleanerReadChunkBytes, onRead))
                {
                    if (!compactor.TryCompact(batch, rules, out var kept, out var dropped))
                    {
                        removed += dropped;
                        changed = true;
                        continue;
                    }

                    removed += dropped;
                    changed |= !kept.Equals(batch);
                    cleaned.Append(kept.Span, config.IndexIntervalBytes, nowMs);
                    throttle.Acquire(kept.Length);
                }
            }

            if (!changed)
            {
                // Nothing to remove from a lone segment: keep it as it is.
                cleaned.Delete();
                return new GroupOutcome(group[0].SizeBytes, 0, false);
            }

            // The aborted transactions whose markers were in the group stay indexed, as Kafka's cleaner keeps them.
            foreach (var segment in group)
            {
                foreach (var entry in segment.TxnIndex.Entries)
                {
                    cleaned.TxnIndex.Append(entry);
                }
            }

            cleaned.OnBecomeInactive();
            cleaned.Flush();
            SegmentSwap.WriteRange(_device, Directory, baseOffset, group[^1].BaseOffset);
            var swapped = SwapIn(group, cleaned, ref committed);
            return new GroupOutcome(swapped ? cleaned.SizeBytes : group.Sum(s => s.SizeBytes), swapped ? removed : 0, swapped);
        }
        finally
        {
            if (!committed)
            {
                cleaned.Delete();
                SegmentSwap.DeleteRange(_device, Directory, baseOffset);
            }
        }
    }

    /// <summary>
    /// Under the append lock: replaces the group in the segment list with the cleaned segment, unless retention or a
    /// close got there first (then returns false and the caller discards the cleaned files). Readers holding the old
    /// list keep reading the old segments until their deletion, then retry on the new list, as after retention.
    /// <paramref name="committed"/> turns true at the commit, so a failure after it leaves the new segment in place.
    /// </summary>
    private bool SwapIn(List<LogSegment> group, LogSegment cleaned, ref bool committed)
    {
        lock (_appendLock)
        {
            if (_disposed)
            {
                return false;
            }

            var current = _segments;
            var start = Array.IndexOf(current, group[0]);
            if (start < 0 || start + group.Count > current.Length - 1)
            {
                return false;
            }

            for (var i = 0; i < group.Count; i++)
            {
                if (current[start + i] != group[i])
                {
                    return false;
                }
            }

            cleaned.ChangeFileSuffix(SegmentSwap.SwapSuffix); // the commit: from here a crash finishes the swap
            committed = true;
            _segments = [.. current[..start], cleaned, .. current[(start + group.Count)..]];
            foreach (var old in group)
            {
                // The first old segment's files take the .deleted suffix before the cleaned one takes their names.
                DeleteSegmentLater(old);
            }

            cleaned.ChangeFileSuffix("");
            SegmentSwap.DeleteRange(_device, Directory, cleaned.BaseOffset);
            return true;
        }
    }
}
