namespace Tributary.Broker.Groups;

/// <summary>
/// One committed offset of a group for one partition, as OffsetFetch returns it. A null metadata is kept as the empty
/// string, as Kafka stores it.
/// </summary>
public readonly record struct CommittedOffset(long Offset, int LeaderEpoch, string? Metadata, long CommitTimestampMs)
{
    public string Metadata { get; init; } = Metadata ?? "";
}
