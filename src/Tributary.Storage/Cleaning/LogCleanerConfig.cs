namespace Tributary.Storage.Cleaning;

/// <summary>The broker's <c>log.cleaner.*</c> limits; defaults are Kafka's.</summary>
public sealed record LogCleanerConfig
{
    /// <summary><c>log.cleaner.threads</c>: logs cleaned at once, one per thread.</summary>
    public int Threads { get; init; } = 1;

    /// <summary><c>log.cleaner.dedupe.buffer.size</c>: memory of the key maps of all threads together.</summary>
    public long DedupeBufferBytes { get; init; } = 128L * 1024 * 1024;

    /// <summary><c>log.cleaner.io.max.bytes.per.second</c>: read and write rate of all threads together.</summary>
    public double IoMaxBytesPerSecond { get; init; } = double.MaxValue;

    /// <summary><c>log.cleaner.backoff.ms</c>: a thread's sleep when no log needs cleaning.</summary>
    public long BackoffMs { get; init; } = 15_000;

    /// <summary>Key-map memory of one thread.</summary>
    public long DedupeBufferBytesPerThread => Math.Max(OffsetMap.EntryOverheadBytes, DedupeBufferBytes / Math.Max(1, Threads));
}
