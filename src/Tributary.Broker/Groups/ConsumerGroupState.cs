namespace Tributary.Broker.Groups;

/// <summary>The KIP-848 consumer group states, named as Kafka reports them in ConsumerGroupDescribe and ListGroups.</summary>
public enum ConsumerGroupState
{
    /// <summary>No members; the group may still hold committed offsets.</summary>
    Empty,

    /// <summary>The target assignment lags the group epoch. Never observed here: the target is computed in the same heartbeat.</summary>
    Assigning,

    /// <summary>At least one member has not reached its target assignment at the assignment epoch.</summary>
    Reconciling,

    /// <summary>Every member owns exactly its target assignment at the assignment epoch.</summary>
    Stable,

    /// <summary>Deleted; a request that finds it looks the group up again.</summary>
    Dead,
}
