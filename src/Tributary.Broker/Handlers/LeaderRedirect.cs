using Tributary.Broker.Cluster;

namespace Tributary.Broker.Handlers;

/// <summary>
/// Cluster mode: whether a partition's leader is another broker, and where it is, so Produce, Fetch and ListOffsets
/// answer NOT_LEADER_OR_FOLLOWER with the current leader (KIP-951) and the client moves at once. On a single node
/// (no cluster) this broker leads everything and nothing is looked up.
/// </summary>
public static class LeaderRedirect
{
    /// <summary>True when the cluster metadata names another leader (or none, -1) for the partition.</summary>
    public static bool IsElsewhere(BrokerCore broker, string topic, int partition, out PartitionState state)
    {
        state = null!;
        return broker.Cluster is { } cluster && cluster.TryGetPartition(topic, partition, out state) && state.Leader != broker.NodeId;
    }

    /// <summary>The leader's address on <paramref name="listener"/>, null when it is not live or lacks that listener.</summary>
    public static (ClusterBroker Broker, ClusterEndpoint Endpoint)? EndpointOf(BrokerCore broker, int nodeId, string listener) =>
        broker.Cluster is { } cluster && cluster.TryGetBroker(nodeId, out var leader) && leader.Endpoints.FirstOrDefault(e => e.Listener == listener) is { } endpoint
            ? (leader, endpoint)
            : null;
}
