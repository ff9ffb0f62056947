using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Storage.Devices;
using Tributary.Storage.Producers;
using Tributary.Storage.Segments;

namespace Tributary.Storage;

/// <summary>
/// The log of one topic partition: a list of segments, the last of which (the active segment) takes appends.
/// Appends are serialized by a per-partition lock; reads take no lock: they work on a snapshot of the segment list
/// and of the high watermark, and every field they read is published only after the bytes it describes are written.
/// The class is split by concern: appending and flushing (PartitionLog.Append.cs), reading and timestamp lookup
/// (PartitionLog.Read.cs), retention and DeleteRecords (PartitionLog.Retention.cs), loading and recovery
/// (PartitionLog.Load.cs).
/// </summary>
public sealed partial class PartitionLog : IDisposable
{
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

    // The last write to the active segment failed (a full disk, an I/O error) and none has succeeded since; under the
    // append lock. See AppendChecked.
    private bool _lastWriteFailed;

    private long _highWatermark;

    private long _flushedOffset;

    private long _lastFlushMs;

    private volatile bool _disposed;

    // Where segments that leave the log wait out file.delete.delay.ms; null (a log opened on its own) deletes at once.
    private readonly PendingDeletions? _deletions;

    private PartitionLog(
        ILogDevice device, string directory, string topic, int partition, LogConfig config, TimeProvider time, ILogger logger, PendingDeletions? deletions)
    {
        _deletions = deletions;
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

    /// <summary>True once the log is closed or deleted; readers holding it should look the partition up again.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>The first offset a consumer may fetch; earlier offsets were deleted (retention or DeleteRecords).</summary>
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

    /// <summary>Producer ids, epochs, sequences and open transactions of this partition (a snapshot and the log after it, on open).</summary>
    public ProducerStateManager Producers { get; } = new();

    /// <summary>Bytes clients produced to and fetched from this partition (metrics).</summary>
    public PartitionTraffic Traffic { get; } = new();

    /// <summary>Total bytes of all segments.</summary>
    public long SizeBytes => _segments.Sum(s => s.SizeBytes);

    public int SegmentCount => _segments.Length;

    /// <summary>
    /// Offsets below it are on stable storage (Kafka's recovery point): after a crash, only segments holding offsets
    /// from here on are scanned. Written to recovery-point-offset-checkpoint by the log manager.
    /// </summary>
    public long RecoveryPoint => Volatile.Read(ref _flushedOffset);

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
        ILogger? logger = null,
        long? recoveryPoint = null,
        PendingDeletions? deletions = null)
    {
        config.Validate();
        var log = new PartitionLog(device, directory, topic, partition, config, time, logger ?? NullLogger.Instance, deletions);
        try
        {
            log.Load(cleanShutdown, recoveryPoint);
        }
        catch
        {
            log.Dispose();
            throw;
        }

        return log;
    }

    /// <summary>
    /// The aborted transactions that overlap [<paramref name="fromOffset"/>, <paramref name="upperBoundOffset"/>), oldest
    /// marker first, from the transaction indexes of the segment holding <paramref name="fromOffset"/> and those after
    /// it, until an entry's last stable offset reaches the bound (Kafka's collectAbortedTransactions).
    /// </summary>
    public IReadOnlyList<AbortedTransaction> AbortedTransactions(long fromOffset, long upperBoundOffset)
    {
        var segments = _segments;
        var result = new List<AbortedTransaction>();
        for (var i = Math.Max(0, FindSegmentIndex(segments, fromOffset)); i < segments.Length; i++)
        {
            if (segments[i].TxnIndex.Collect(fromOffset, upperBoundOffset, result))
            {
                break;
            }
        }

        return result;
    }

    /// <summary>
    /// Flushes the segments the log rolled past since the last flush and moves the recovery point to the active
    /// segment's base offset (Kafka flushes a rolled segment in the background at each roll; the log manager calls
    /// this before each recovery-point checkpoint instead).
    /// </summary>
    public void FlushRolledSegments()
    {
        lock (_flushLock)
        {
            var segments = _segments;
            var flushedOffset = Volatile.Read(ref _flushedOffset);
            var activeBaseOffset = segments[^1].BaseOffset;
            if (_disposed || activeBaseOffset <= flushedOffset)
            {
                return;
            }

            foreach (var segment in segments[..^1])
            {
                if (segment.NextOffset >= flushedOffset)
                {
                    try
                    {
                        segment.Flush();
                    }
                    catch (ObjectDisposedException) when (!_disposed)
                    {
                        // Deleted by retention or replaced by the cleaner meanwhile.
                    }
                }
            }

            Volatile.Write(ref _flushedOffset, activeBaseOffset);
        }
    }

    /// <summary>Logs an index write-out the disk refused (the append itself stood); once until one succeeds again.</summary>
    private void ReportIndexFailure(LogSegment segment)
    {
        if (segment.TakeIndexFailure() is { } failure)
        {
            StorageLog.IndexWriteOutFailed(_logger, failure, Topic, Partition, segment.BaseOffset);
        }
    }

    public void UpdateConfig(LogConfig config)
    {
        config.Validate();
        _config = config;
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

                    Volatile.Write(ref _flushedOffset, _logEndOffset);
                }

                TakeSnapshot(sync: true);
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

    /// <summary>
    /// Closes the files and has <paramref name="removeDirectory"/> take the directory away (the log manager renames it
    /// for a delayed deletion); then wakes the <see cref="Appended"/> listeners, who find the log gone.
    /// </summary>
    internal void DeleteFiles(Action<PartitionLog> removeDirectory)
    {
        Dispose();
        try
        {
            removeDirectory(this);
        }
        finally
        {
            RaiseAppended();
        }
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
