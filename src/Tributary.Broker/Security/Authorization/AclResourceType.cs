namespace Tributary.Broker.Security.Authorization;

/// <summary>Kafka's ResourceType with its wire codes (fixed forever: they are stored in the metadata snapshot).</summary>
public enum AclResourceType : sbyte
{
    Unknown = 0,
    Any = 1,
    Topic = 2,
    Group = 3,
    Cluster = 4,
    TransactionalId = 5,
    DelegationToken = 6,
    User = 7,
}
