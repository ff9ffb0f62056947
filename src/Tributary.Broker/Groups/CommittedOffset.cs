namespace Tributary.Broker.Groups;

/// <summary>One committed offset of a group for one partition, as OffsetFetch returns it.</summary>
public readonly record struct CommittedOffset(long Offset, int LeaderEpoch, string? Metadata, long CommitTimestampMs);
