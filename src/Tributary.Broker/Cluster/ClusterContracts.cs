namespace Tributary.Broker.Cluster;

/// <summary>One partition's replication state as the cluster metadata holds it: its replicas, leader, leader epoch and in-sync replicas.</summary>
/// <param name="PartitionEpoch">Bumped on every change of the record (leader, ISR or replicas); the compare-and-swap version of AlterIsr.</param>
/// <param name="AddingReplicas">During a reassignment (KIP-455), the target replicas not in the original set; else null.</param>
/// <param name="RemovingReplicas">During a reassignment, the original replicas not in the target; else null.</param>
public sealed record PartitionState(string Topic, Guid TopicId, int Partition, int[] Replicas, int Leader, int LeaderEpoch, int[] Isr, int PartitionEpoch,
    int[]? AddingReplicas = null, int[]? RemovingReplicas = null);

/// <summary>One listener of a broker as it registered it.</summary>
public sealed record ClusterEndpoint(string Listener, string Host, int Port);

/// <summary>A live broker as registered in the cluster metadata.</summary>
/// <param name="DirectoryId">
/// The id of the broker's data directory (KIP-858's directory id, <see cref="DataDirectoryId"/>): a new one means the
/// broker lost its disk. Empty from a broker that does not send it.
/// </param>
public sealed record ClusterBroker(int NodeId, string? Rack, IReadOnlyList<ClusterEndpoint> Endpoints, Guid DirectoryId = default);

/// <summary>The value of admitted/&lt;id&gt;: the registration (incarnation) the controller took in, and its data directory.</summary>
public sealed record BrokerAdmission(long Incarnation, Guid DirectoryId);

/// <summary>What the data plane (replication) needs from the control plane (etcd).</summary>
public interface IClusterControl
{
    int LocalNodeId { get; }

    /// <summary>A live broker by id, for a follower to find its leader's address; false when it is not registered.</summary>
    bool TryGetBroker(int nodeId, out ClusterBroker broker);

    /// <summary>
    /// The leader asks to change a partition's ISR. True when written; false when the partition's state moved on
    /// (another epoch or partition epoch), in which case the caller waits for the new state through its sink.
    /// </summary>
    Task<bool> AlterIsrAsync(PartitionState current, int[] newIsr, CancellationToken cancellationToken);
}

/// <summary>What the control plane tells the data plane: this broker's role for a partition changed.</summary>
public interface IReplicaRoleSink
{
    /// <summary>
    /// The partition's state changed: become leader (state.Leader is the local node) or follower of state.Leader at
    /// state.LeaderEpoch, or, at the same epoch, take its new ISR and replicas (partition epoch + 1).
    /// </summary>
    Task ApplyAsync(PartitionState state, CancellationToken cancellationToken);

    /// <summary>The partition is no longer assigned to this broker (deleted or reassigned).</summary>
    Task RemoveAsync(string topic, int partition, CancellationToken cancellationToken);
}

/// <summary>The value of <c>acls</c>: every ACL binding of the cluster (enums as Kafka's codes).</summary>
public sealed record ClusterAcls(Tributary.Broker.Security.Authorization.AclBinding[] Bindings);

/// <summary>The value of <c>scram/&lt;user&gt;</c>: the user's SCRAM credentials by mechanism (SCRAM-SHA-256, SCRAM-SHA-512).</summary>
public sealed record ClusterScramUser(Dictionary<string, Tributary.Broker.Security.ScramCredential> Credentials);

/// <summary>The value of <c>client_quotas</c>: every client quota entity of the cluster with its keys and values.</summary>
public sealed record ClusterClientQuotas(Tributary.Broker.Quotas.ClientQuotaRecord[] Quotas);
