namespace Tributary.Broker.Handlers;

/// <summary>
/// One partition of a fetch session: where the client last asked to read it from, and what the last response that
/// carried it said, so an incremental response can leave it out when nothing changed.
/// </summary>
public sealed class FetchSessionPartition(FetchSessionKey key)
{
    public FetchSessionKey Key { get; } = key;

    public long FetchOffset { get; set; }

    public int PartitionMaxBytes { get; set; }

    // -1: not sent yet (or last sent with an error), so the next response carries the partition.
    public long HighWatermark { get; set; } = -1;

    public long LastStableOffset { get; set; } = -1;

    public long LogStartOffset { get; set; } = -1;

    public FetchTarget Target => new(Key.Topic, Key.TopicId, Key.Partition, FetchOffset, PartitionMaxBytes);
}
