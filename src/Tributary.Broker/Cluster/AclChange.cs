namespace Tributary.Broker.Cluster;

/// <summary>What a change of the cluster's ACLs did.</summary>
public enum AclChange
{
    Written,
    Unchanged,

    /// <summary>Refused: the bindings would pass <see cref="ClusterNode.AclsBytesMax"/>; nothing was written.</summary>
    TooLarge,
}
