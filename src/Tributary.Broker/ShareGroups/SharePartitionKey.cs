namespace Tributary.Broker.ShareGroups;

/// <summary>A share partition: a group's view of one topic partition (Kafka's SharePartitionKey).</summary>
public readonly record struct SharePartitionKey(string GroupId, Guid TopicId, int Partition);
