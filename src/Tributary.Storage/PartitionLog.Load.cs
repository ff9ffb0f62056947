using Tributary.Protocol.Records;
using Tributary.Storage.Producers;
using Tributary.Storage.Segments;

namespace Tributary.Storage;

/// <summary>
/// Opening a partition directory: segment recovery after a crash (from the recovery point on, as Kafka does), then the
/// producer state from the newest usable snapshot plus the batches after it, rebuilding the transaction indexes of
/// the segments recovery scanned.
/// </summary>
public sealed partial class PartitionLog
{
    /// <summary>Bytes read per step while rebuilding the producer state on open: bounds the memory the scan holds.</summary>
    private const int ProducerRebuildReadBytesMax = 1 << 20;

    /// <summary>Producer-state snapshots kept besides the newest one at or below the recovery point.</summary>
    internal const int SnapshotsKept = 3;

    /// <param name="recoveryPoint">
    /// Offsets below it were flushed before an unclean stop, so segments wholly below it are not scanned; null when
    /// unknown (every segment is scanned). Ignored after a clean shutdown.
    /// </param>
    private void Load(bool cleanShutdown, long? recoveryPoint)
    {
        if (!_device.DirectoryExists(Directory))
        {
            _device.CreateDirectory(Directory);
        }

        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var baseOffsets = SegmentBaseOffsetsOnDisk();
        var checkpoint = LogStartOffsetCheckpoint.Read(_device, Directory);
        var scanFrom = cleanShutdown ? long.MaxValue : recoveryPoint ?? 0;
        var segments = OpenSegments(baseOffsets, cleanShutdown, scanFrom, nowMs, out var scanned, out var tailFlushed);
        if (segments.Count == 0)
        {
            segments.Add(LogSegment.Create(_device, Directory, Math.Max(0, checkpoint ?? 0), nowMs));
        }

        _segments = [.. segments];
        _logEndOffset = segments[^1].NextOffset;
        _highWatermark = _logEndOffset;

        // Everything is durable after a clean stop, or when recovery flushed the tail; else what was below the recovery
        // point and the earlier segments recovery flushed. The rest is recovered again after another crash.
        _flushedOffset = cleanShutdown || tailFlushed || scanned.Count == 0
            ? _logEndOffset
            : Math.Max(Math.Min(scanFrom, _logEndOffset), segments[^1].BaseOffset);
        _lastFlushMs = nowMs;
        _logStartOffset = Math.Clamp(checkpoint ?? 0, segments[0].BaseOffset, _logEndOffset);
        DeleteSegmentsBelowLogStartOffset();
        LoadProducerState(scanned.Where(s => _segments.Contains(s)).ToList(), scanFrom);
    }

    /// <summary>The base offsets of the segment logs in the directory, oldest first; deletes files a crash left behind.</summary>
    private long[] SegmentBaseOffsetsOnDisk()
    {
        if (Cleaning.SegmentSwap.Recover(_device, Directory) is var swaps and > 0)
        {
            StorageLog.FinishedSwaps(_logger, Topic, Partition, swaps);
        }

        // Segments that left the log and waited out file.delete.delay.ms when the broker stopped: never live data.
        var deletedFiles = 0;
        foreach (var name in _device.ListFiles(Directory))
        {
            if (name.EndsWith(LogSegment.DeletedSuffix, StringComparison.Ordinal))
            {
                _device.DeleteFile(Path.Combine(Directory, name));
                deletedFiles++;
            }
        }

        if (deletedFiles > 0)
        {
            StorageLog.RemovedDeletedFiles(_logger, Topic, Partition, deletedFiles);
        }

        var files = _device.ListFiles(Directory);
        var baseOffsets = new SortedSet<long>();
        foreach (var name in files)
        {
            if (LogSegment.TryParseBaseOffset(name, LogSegment.LogSuffix, out var baseOffset))
            {
                baseOffsets.Add(baseOffset);
            }
            else if (name.EndsWith(LogStartOffsetCheckpoint.TempSuffix, StringComparison.Ordinal)
                || name.EndsWith(ProducerSnapshot.TempSuffix, StringComparison.Ordinal))
            {
                // A checkpoint or snapshot write that did not reach its rename.
                _device.DeleteFile(Path.Combine(Directory, name));
            }
        }

        // Index files whose log is gone (a crash in the middle of deleting a segment).
        foreach (var name in files)
        {
            if ((LogSegment.TryParseBaseOffset(name, LogSegment.IndexSuffix, out var baseOffset)
                    || LogSegment.TryParseBaseOffset(name, LogSegment.TimeIndexSuffix, out baseOffset)
                    || LogSegment.TryParseBaseOffset(name, LogSegment.TxnIndexSuffix, out baseOffset))
                && !baseOffsets.Contains(baseOffset))
            {
                _device.DeleteFile(Path.Combine(Directory, name));
            }
        }

        return baseOffsets.ToArray();
    }

    /// <summary>
    /// Opens the segments, scanning and cutting those that need recovery; a cut in an earlier segment deletes the
    /// later ones. Flushes what recovery cut or rebuilt, except a tail that was found whole. Returns the scanned
    /// segments in <paramref name="scanned"/>, and whether the tail was flushed.
    /// </summary>
    private List<LogSegment> OpenSegments(long[] ordered, bool cleanShutdown, long scanFrom, long nowMs, out List<LogSegment> scanned, out bool tailFlushed)
    {
        var segments = new List<LogSegment>();
        var changed = new List<LogSegment>();
        scanned = [];
        for (var i = 0; i < ordered.Length; i++)
        {
            var segment = LogSegment.Open(_device, Directory, ordered[i], nowMs, out var indexFilesMissing);
            segments.Add(segment);
            var isLast = i == ordered.Length - 1;

            // After a crash a segment holding offsets at or past the recovery point may be torn (offsets below it were
            // flushed); any segment whose indexes do not fit its log is rebuilt as well. Unlike Kafka, which scans the
            // segment the recovery point falls in, a segment that loads whole and ends at or below it is trusted: so a
            // partition untouched since its last flush costs a crashed start no scan.
            var loaded = !indexFilesMissing && segment.TryLoad();
            if (!loaded || (!cleanShutdown && segment.NextOffset > scanFrom))
            {
                scanned.Add(segment);
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

        tailFlushed = segments.Count > 0 && changed.Contains(segments[^1]);
        return segments;
    }

    /// <summary>
    /// Loads the newest valid snapshot at or below both the recovery point and the first scanned segment, then replays
    /// the batches after it. A damaged snapshot is logged, deleted and the next older one tried; without one the whole
    /// log is replayed. Snapshots past the log end (the log was cut below them) are deleted. The transaction indexes
    /// of scanned segments (of all segments, without a snapshot) are rebuilt by the replay.
    /// </summary>
    private void LoadProducerState(List<LogSegment> scanned, long scanFrom)
    {
        var offsets = ProducerSnapshot.Offsets(_device.ListFiles(Directory));
        var limit = Math.Min(Math.Min(scanFrom, _logEndOffset), scanned.Count > 0 ? scanned[0].BaseOffset : long.MaxValue);
        long? snapshotOffset = null;
        for (var i = offsets.Count - 1; i >= 0; i--)
        {
            var offset = offsets[i];
            if (offset > _logEndOffset)
            {
                _device.DeleteFile(ProducerSnapshot.PathOf(Directory, offset));
                continue;
            }

            if (offset > limit || snapshotOffset is not null)
            {
                continue;
            }

            if (ProducerSnapshot.Read(_device, Directory, offset, out var problem) is { } entries)
            {
                Producers.LoadSnapshot(entries);
                snapshotOffset = offset;
            }
            else
            {
                StorageLog.SnapshotIgnored(_logger, Topic, Partition, offset, problem ?? "");
                _device.DeleteFile(ProducerSnapshot.PathOf(Directory, offset));
            }
        }

        if (snapshotOffset is null)
        {
            // Replayed from the log start: what the state held (after a truncation, producers of the batches cut off
            // the log, which would answer their retries as duplicates at offsets that hold other records) goes.
            Producers.LoadSnapshot([]);
        }

        var rebuilt = snapshotOffset is null ? [.. _segments] : scanned;
        foreach (var segment in rebuilt)
        {
            segment.TxnIndex.Reset();
        }

        var replayed = ReplayBatches(Math.Max(snapshotOffset ?? 0, _logStartOffset), rebuilt);
        Producers.PublishAfterHighWatermark();
        StorageLog.ProducerStateLoaded(_logger, Topic, Partition, snapshotOffset ?? -1, replayed);
    }

    /// <summary>
    /// Replays the batch headers from <paramref name="from"/> to the log end into the producer state; aborts whose
    /// markers are in <paramref name="rebuilt"/> are added to those segments' transaction indexes. Returns the count.
    /// </summary>
    private long ReplayBatches(long from, List<LogSegment> rebuilt)
    {
        var offset = from;
        long count = 0;
        while (offset < _logEndOffset)
        {
            var read = Read(offset, new LogReadOptions(ProducerRebuildReadBytesMax) { UpToLogEnd = true });
            if (read.Status != LogReadStatus.Ok || read.Records.IsEmpty)
            {
                break;
            }

            for (var remaining = read.Records; !remaining.IsEmpty;)
            {
                var header = RecordBatchHeader.Read(remaining.Span);
                if (header.LastOffset >= offset)
                {
                    if (Producers.OnAppended(remaining[..header.TotalSize], header) is { } aborted
                        && _segments[FindSegmentIndex(_segments, header.BaseOffset)] is var segment
                        && rebuilt.Contains(segment))
                    {
                        segment.TxnIndex.Append(aborted);
                    }

                    offset = header.NextOffset;
                    count++;
                }

                remaining = remaining[header.TotalSize..];
            }
        }

        return count;
    }

    /// <summary>
    /// Writes a snapshot of the producer state at the log end (at a roll, without fsync; at a clean close, with) and
    /// deletes the older ones past <see cref="SnapshotsKept"/>, keeping the newest at or below the recovery point,
    /// which the next start after a crash may need. Caller holds the append lock. A failure is logged: the snapshot
    /// only saves replay time.
    /// </summary>
    private void TakeSnapshot(bool sync)
    {
        var offset = _logEndOffset;
        try
        {
            ProducerSnapshot.Write(_device, Directory, offset, Producers.SnapshotEntries(), sync);
            var offsets = ProducerSnapshot.Offsets(_device.ListFiles(Directory));
            var recoveryPoint = Volatile.Read(ref _flushedOffset);
            var keepBelowRecoveryPoint = offsets.LastOrDefault(o => o <= recoveryPoint, -1);
            foreach (var old in offsets.SkipLast(SnapshotsKept))
            {
                if (old != keepBelowRecoveryPoint)
                {
                    _device.DeleteFile(ProducerSnapshot.PathOf(Directory, old));
                }
            }
        }
        catch (IOException e)
        {
            StorageLog.SnapshotWriteFailed(_logger, e, Topic, Partition, offset);
        }
    }
}
