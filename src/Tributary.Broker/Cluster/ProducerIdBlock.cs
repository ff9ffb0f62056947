namespace Tributary.Broker.Cluster;

/// <summary>
/// The value of <c>producer_ids</c>: the first id no broker has reserved yet, and the broker that took the block before
/// it (as Kafka's ProducerIdsRecord names the broker it handed the last block to).
/// </summary>
public sealed record ProducerIdBlock(int BrokerId, long NextProducerId);
