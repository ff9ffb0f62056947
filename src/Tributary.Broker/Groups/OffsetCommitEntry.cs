namespace Tributary.Broker.Groups;

/// <summary>One partition of an OffsetCommit request.</summary>
public readonly record struct OffsetCommitEntry(string Topic, int Partition, long Offset, int LeaderEpoch, string? Metadata);
