namespace Tributary.Storage.Cleaning;

/// <summary>
/// What the cleaner could clean in a log now: the closed segments from the log start up to
/// <see cref="EndOffset"/> (the active segment, the last stable offset and min.compaction.lag.ms bound it); those
/// ending at or before <see cref="FirstDirtyOffset"/> were cleaned before.
/// </summary>
/// <param name="MaxCompactionLagExceeded">The oldest dirty record is older than max.compaction.lag.ms.</param>
public sealed record CleanableRange(long FirstDirtyOffset, long EndOffset, long CleanBytes, long DirtyBytes, bool MaxCompactionLagExceeded)
{
    /// <summary>Dirty bytes as a share of cleanable bytes (Kafka's cleanable ratio).</summary>
    public double DirtyRatio => CleanBytes + DirtyBytes == 0 ? 0 : (double)DirtyBytes / (CleanBytes + DirtyBytes);
}
