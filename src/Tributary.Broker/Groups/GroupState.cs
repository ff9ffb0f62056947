namespace Tributary.Broker.Groups;

/// <summary>
/// The classic group states. The names are the ones Kafka reports in DescribeGroups and filters on in ListGroups.
/// </summary>
public enum GroupState
{
    /// <summary>No members; the group may still hold committed offsets.</summary>
    Empty,

    /// <summary>A rebalance started: the coordinator waits for members to (re)join.</summary>
    PreparingRebalance,

    /// <summary>Every member joined; the coordinator waits for the leader's assignment in SyncGroup.</summary>
    CompletingRebalance,

    /// <summary>The leader's assignment was distributed.</summary>
    Stable,

    /// <summary>The group was deleted or expired; a request that finds it looks the group up again.</summary>
    Dead,
}
