namespace Tributary.Storage;

/// <summary>
/// Per-partition log settings, named after Kafka's topic configs (the Kafka key is given on each property).
/// Defaults are Kafka's, for the storage engine on its own; the broker resolves every value from its configuration
/// table (Tributary.Broker.Config.ConfigTable), whose bounds are at least as strict as <see cref="Validate"/>.
/// </summary>
public sealed record LogConfig
{
    public static LogConfig Default { get; } = new();

    /// <summary>
    /// Smallest <c>segment.bytes</c>: a segment must hold at least one batch header. The broker's rows for
    /// <c>segment.bytes</c> and <c>log.segment.bytes</c> take their minimum from here, so a value they accept opens.
    /// </summary>
    public const int SegmentBytesMin = 64;

    /// <summary><c>segment.bytes</c>: roll to a new segment before the active one would grow past this.</summary>
    public int SegmentBytes { get; init; } = 1024 * 1024 * 1024;

    /// <summary><c>segment.ms</c>: roll when the active segment's first append is this old.</summary>
    public long SegmentMs { get; init; } = (long)TimeSpan.FromDays(7).TotalMilliseconds;

    /// <summary><c>retention.ms</c>: delete segments whose newest timestamp is older than this; -1 keeps forever.</summary>
    public long RetentionMs { get; init; } = (long)TimeSpan.FromDays(7).TotalMilliseconds;

    /// <summary><c>retention.bytes</c>: delete oldest segments while the partition is larger than this; -1 is no limit.</summary>
    public long RetentionBytes { get; init; } = -1;

    /// <summary><c>index.interval.bytes</c>: one offset-index entry (and time-index entry) per this many log bytes.</summary>
    public int IndexIntervalBytes { get; init; } = 4096;

    /// <summary>
    /// <c>flush.messages</c> (broker: <c>log.flush.interval.messages</c>): fsync once this many messages are unflushed.
    /// 1 means fsync before every acknowledgement. The default relies on the OS page cache, as Kafka does.
    /// </summary>
    public long FlushIntervalMessages { get; init; } = long.MaxValue;

    /// <summary><c>flush.ms</c> (broker: <c>log.flush.interval.ms</c>): fsync when the last flush is this old.</summary>
    public long FlushIntervalMs { get; init; } = long.MaxValue;

    /// <summary><c>cleanup.policy</c> includes <c>delete</c>: retention deletes old segments.</summary>
    public bool Delete { get; init; } = true;

    /// <summary><c>cleanup.policy</c> includes <c>compact</c>: the log cleaner keeps the latest record per key.</summary>
    public bool Compact { get; init; }

    /// <summary><c>delete.retention.ms</c>: a tombstone is kept this long after the cleaner first rewrote its batch.</summary>
    public long DeleteRetentionMs { get; init; } = (long)TimeSpan.FromDays(1).TotalMilliseconds;

    /// <summary><c>min.compaction.lag.ms</c>: segments with a record younger than this are not cleaned.</summary>
    public long MinCompactionLagMs { get; init; }

    /// <summary><c>max.compaction.lag.ms</c>: a log whose oldest dirty record is older than this is cleaned whatever its dirty ratio.</summary>
    public long MaxCompactionLagMs { get; init; } = long.MaxValue;

    /// <summary>
    /// <c>file.delete.delay.ms</c> (broker: <c>log.segment.delete.delay.ms</c>): how long a segment or partition directory
    /// that left the log stays on disk under a <c>.deleted</c> / <c>-delete</c> name before it is removed; 0 removes at once.
    /// </summary>
    public long FileDeleteDelayMs { get; init; } = 60_000;

    /// <summary><c>min.cleanable.dirty.ratio</c>: clean once dirty bytes are at least this share of the cleanable bytes.</summary>
    public double MinCleanableDirtyRatio { get; init; } = 0.5;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is out of range.</summary>
    public void Validate()
    {
        // A segment must hold at least one batch header; index positions are int32, so segments stay below 2 GiB.
        if (SegmentBytes < SegmentBytesMin)
        {
            throw new ArgumentException($"segment.bytes {SegmentBytes} must be at least {SegmentBytesMin}");
        }

        if (SegmentMs < 1)
        {
            throw new ArgumentException($"segment.ms {SegmentMs} must be at least 1");
        }

        if (RetentionMs < -1)
        {
            throw new ArgumentException($"retention.ms {RetentionMs} must be -1 (infinite) or at least 0");
        }

        if (RetentionBytes < -1)
        {
            throw new ArgumentException($"retention.bytes {RetentionBytes} must be -1 (no limit) or at least 0");
        }

        if (IndexIntervalBytes < 0)
        {
            throw new ArgumentException($"index.interval.bytes {IndexIntervalBytes} must be at least 0");
        }

        if (FlushIntervalMessages < 1)
        {
            throw new ArgumentException($"flush.messages {FlushIntervalMessages} must be at least 1");
        }

        if (FlushIntervalMs < 0)
        {
            throw new ArgumentException($"flush.ms {FlushIntervalMs} must be at least 0");
        }

        if (DeleteRetentionMs < 0 || MinCompactionLagMs < 0 || MaxCompactionLagMs < 1)
        {
            throw new ArgumentException("delete.retention.ms and min.compaction.lag.ms must be at least 0, max.compaction.lag.ms at least 1");
        }

        if (FileDeleteDelayMs < 0)
        {
            throw new ArgumentException($"file.delete.delay.ms {FileDeleteDelayMs} must be at least 0");
        }

        if (!(MinCleanableDirtyRatio is >= 0 and <= 1))
        {
            throw new ArgumentException($"min.cleanable.dirty.ratio {MinCleanableDirtyRatio} must be between 0 and 1");
        }
    }
}
