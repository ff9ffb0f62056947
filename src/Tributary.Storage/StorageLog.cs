using Microsoft.Extensions.Logging;

namespace Tributary.Storage;

/// <summary>Storage log messages; event ids are stable so operators can alert on them.</summary>
internal static partial class StorageLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning,
        Message = "Partition {Topic}-{Partition}: truncated {TruncatedBytes} bytes from segment {BaseOffset} during recovery: {Problem}")]
    public static partial void TruncatedSegment(ILogger logger, string topic, int partition, long baseOffset, long truncatedBytes, string problem);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning,
        Message = "Partition {Topic}-{Partition}: deleted segment {BaseOffset} found after a truncated segment during recovery")]
    public static partial void DeletedSegmentAfterTruncation(ILogger logger, string topic, int partition, long baseOffset);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information,
        Message = "Partition {Topic}-{Partition}: rebuilt the indexes of segment {BaseOffset}")]
    public static partial void RebuiltIndexes(ILogger logger, string topic, int partition, long baseOffset);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information,
        Message = "Partition {Topic}-{Partition}: deleted {SegmentCount} segments, log start offset is now {LogStartOffset}")]
    public static partial void DeletedSegments(ILogger logger, string topic, int partition, int segmentCount, long logStartOffset);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning,
        Message = "Ignoring directory '{Directory}' in the data directory: it is not named <topic>-<partition>")]
    public static partial void IgnoredDirectory(ILogger logger, string directory);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Information,
        Message = "Loaded {PartitionCount} partitions from '{DataDirectory}' after {ShutdownKind} shutdown")]
    public static partial void LoadedPartitions(ILogger logger, int partitionCount, string dataDirectory, string shutdownKind);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Error,
        Message = "Partition {Topic}-{Partition}: an append listener threw")]
    public static partial void AppendListenerFailed(ILogger logger, Exception exception, string topic, int partition);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Warning,
        Message = "Partition {Topic}-{Partition}: the indexes of segment {BaseOffset} could not be written; appends go on, lookups walk the log from the entries kept, and entries are left out until a write succeeds")]
    public static partial void IndexWriteOutFailed(ILogger logger, Exception exception, string topic, int partition, long baseOffset);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Error,
        Message = "Partition {Topic}-{Partition}: could not be flushed at close; its files are closed, no clean-shutdown marker is written, and the next start recovers")]
    public static partial void CloseFailed(ILogger logger, Exception exception, string topic, int partition);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Error,
        Message = "Partition {Topic}-{Partition} is offline: its stored state could not be opened ({Reason}); it answers KAFKA_STORAGE_ERROR until a restart opens it or the topic is deleted")]
    public static partial void PartitionOffline(ILogger logger, Exception exception, string topic, int partition, string reason);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Information,
        Message = "Partition {Topic}-{Partition}: cleaned {SegmentCount} segments, {BytesBefore} bytes to {BytesAfter}, {RecordsRemoved} records removed; dirty from offset {FirstDirtyOffset}")]
    public static partial void Cleaned(ILogger logger, string topic, int partition, int segmentCount, long bytesBefore, long bytesAfter, long recordsRemoved, long firstDirtyOffset);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Information,
        Message = "Partition {Topic}-{Partition}: finished {SwapCount} segment swaps of the log cleaner that a stop interrupted")]
    public static partial void FinishedSwaps(ILogger logger, string topic, int partition, int swapCount);

    [LoggerMessage(EventId = 3013, Level = LogLevel.Error,
        Message = "Partition {Topic}-{Partition}: cleaning failed; the log cleaner leaves it alone until a restart")]
    public static partial void CleaningFailed(ILogger logger, Exception exception, string topic, int partition);

    [LoggerMessage(EventId = 3014, Level = LogLevel.Warning,
        Message = "The cleaner-offset-checkpoint of {DataDirectory} could not be written; the previous one stays in force")]
    public static partial void CleanerCheckpointWriteFailed(ILogger logger, Exception exception, string dataDirectory);

    [LoggerMessage(EventId = 3015, Level = LogLevel.Warning,
        Message = "The cleaner-offset-checkpoint of {DataDirectory} could not be read ({Problem}); compacted logs are cleaned from their start")]
    public static partial void CleanerCheckpointUnreadable(ILogger logger, string dataDirectory, string problem);

    [LoggerMessage(EventId = 3016, Level = LogLevel.Warning,
        Message = "Partition {Topic}-{Partition}: the cleaner's checkpoint {Offset} is past the log end {LogEndOffset}; the log is cleaned from its start")]
    public static partial void CleanerCheckpointPastLogEnd(ILogger logger, string topic, int partition, long offset, long logEndOffset);

    [LoggerMessage(EventId = 3040, Level = LogLevel.Warning,
        Message = "Partition {Topic}-{Partition}: ignored the producer-state snapshot at offset {Offset} ({Problem}); an earlier one or the log is used")]
    public static partial void SnapshotIgnored(ILogger logger, string topic, int partition, long offset, string problem);

    [LoggerMessage(EventId = 3041, Level = LogLevel.Warning,
        Message = "Partition {Topic}-{Partition}: the producer-state snapshot at offset {Offset} could not be written; the next start replays more of the log")]
    public static partial void SnapshotWriteFailed(ILogger logger, Exception exception, string topic, int partition, long offset);

    [LoggerMessage(EventId = 3042, Level = LogLevel.Warning,
        Message = "The recovery-point-offset-checkpoint of {DataDirectory} could not be read ({Problem}); after an unclean stop every segment is recovered")]
    public static partial void RecoveryPointCheckpointUnreadable(ILogger logger, string dataDirectory, string problem);

    [LoggerMessage(EventId = 3043, Level = LogLevel.Warning,
        Message = "The recovery-point-offset-checkpoint of {DataDirectory} could not be written; the previous one stays in force")]
    public static partial void RecoveryPointCheckpointWriteFailed(ILogger logger, Exception exception, string dataDirectory);

    [LoggerMessage(EventId = 3044, Level = LogLevel.Debug,
        Message = "Partition {Topic}-{Partition}: producer state loaded from the snapshot at offset {SnapshotOffset}, then {ReplayedBatches} batches replayed")]
    public static partial void ProducerStateLoaded(ILogger logger, string topic, int partition, long snapshotOffset, long replayedBatches);

    [LoggerMessage(EventId = 3045, Level = LogLevel.Warning,
        Message = "Partition {Topic}-{Partition}: truncated for replication to offset {RequestedOffset}; the log now ends at {LogEndOffset}")]
    public static partial void TruncatedForReplication(ILogger logger, string topic, int partition, long requestedOffset, long logEndOffset);

    [LoggerMessage(EventId = 1130, Level = LogLevel.Warning,
        Message = "Could not remove {What} after file.delete.delay.ms; the next start removes it")]
    public static partial void PendingDeletionFailed(ILogger logger, Exception exception, string what);

    [LoggerMessage(EventId = 1131, Level = LogLevel.Warning,
        Message = "{EntriesMax} deletions wait out file.delete.delay.ms, the limit: the one due first ({What}) and those after it are removed before their delay is over (logged once until the queue halves)")]
    public static partial void PendingDeletionsFull(ILogger logger, int entriesMax, string what);

    [LoggerMessage(EventId = 1132, Level = LogLevel.Warning,
        Message = "Partition {Topic}-{Partition}: segment {BaseOffset} could not be renamed .deleted, so it is removed at once; a fetch reading it fails and is retried")]
    public static partial void SegmentRenameFailed(ILogger logger, Exception exception, string topic, int partition, long baseOffset);

    [LoggerMessage(EventId = 1133, Level = LogLevel.Information,
        Message = "Removed '{Directory}', a partition directory deleted before the last stop that waited out file.delete.delay.ms")]
    public static partial void RemovedDeletedDirectory(ILogger logger, string directory);

    [LoggerMessage(EventId = 1134, Level = LogLevel.Information,
        Message = "Partition {Topic}-{Partition}: removed {FileCount} .deleted files left from before the last stop")]
    public static partial void RemovedDeletedFiles(ILogger logger, string topic, int partition, int fileCount);

    [LoggerMessage(EventId = 1135, Level = LogLevel.Information,
        Message = "Partition {Topic}-{Partition}: the log is deleted; its directory is renamed '{Name}' and removed in {DelayMs} ms")]
    public static partial void PartitionDirectoryRenamed(ILogger logger, string topic, int partition, string name, long delayMs);

    [LoggerMessage(EventId = 1136, Level = LogLevel.Warning,
        Message = "Partition {Topic}-{Partition}: the directory could not be renamed for a delayed deletion, so it is removed at once")]
    public static partial void PartitionDirectoryRenameFailed(ILogger logger, Exception exception, string topic, int partition);
}
