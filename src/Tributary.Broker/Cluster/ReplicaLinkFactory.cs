namespace Tributary.Broker.Cluster;

/// <summary>Opens a replication connection to a live broker (its registered endpoints).</summary>
public delegate Task<IReplicaLink> ReplicaLinkFactory(ClusterBroker leader, CancellationToken cancellationToken);
