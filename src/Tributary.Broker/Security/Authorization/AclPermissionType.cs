namespace Tributary.Broker.Security.Authorization;

/// <summary>Kafka's AclPermissionType with its wire codes; ANY exists only in filters.</summary>
public enum AclPermissionType : sbyte
{
    Unknown = 0,
    Any = 1,
    Deny = 2,
    Allow = 3,
}
