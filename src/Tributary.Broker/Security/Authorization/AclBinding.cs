namespace Tributary.Broker.Security.Authorization;

/// <summary>
/// One ACL: a resource pattern (type, name, LITERAL or PREFIXED) and an entry (principal, host, operation, ALLOW or
/// DENY). A LITERAL name "*" is every resource of the type; principal "User:*" is every user; host "*" is every host.
/// </summary>
public sealed record AclBinding(AclResourceType ResourceType, string ResourceName, AclPatternType PatternType, string Principal, string Host,
    AclOperation Operation, AclPermissionType Permission)
{
    /// <summary>The only name a CLUSTER resource has, as Kafka names it.</summary>
    public const string ClusterName = "kafka-cluster";

    public const string Wildcard = "*";

    public const string WildcardPrincipal = "User:*";

    /// <summary>
    /// Why Kafka would refuse to create this binding (INVALID_REQUEST), or null: only concrete values (no UNKNOWN or
    /// ANY, no MATCH pattern), a name, the cluster named kafka-cluster, a principal of the form Type:name.
    /// </summary>
    public string? Validate()
    {
        if (ResourceType is AclResourceType.Unknown or AclResourceType.Any || !Enum.IsDefined(ResourceType))
        {
            return $"Invalid resourceType {(sbyte)ResourceType}";
        }

        if (PatternType is not (AclPatternType.Literal or AclPatternType.Prefixed))
        {
            return $"Invalid patternType {(sbyte)PatternType}";
        }

        if (Operation is AclOperation.Unknown or AclOperation.Any || !Enum.IsDefined(Operation))
        {
            return $"Invalid operation {(sbyte)Operation}";
        }

        if (Permission is not (AclPermissionType.Allow or AclPermissionType.Deny))
        {
            return $"Invalid permissionType {(sbyte)Permission}";
        }

        if (ResourceName.Length == 0)
        {
            return "Invalid empty resource name";
        }

        if (ResourceType == AclResourceType.Cluster && ResourceName != ClusterName)
        {
            return "The only valid name for the CLUSTER resource is " + ClusterName;
        }

        if (Principal.IndexOf(':', StringComparison.Ordinal) is <= 0)
        {
            return $"Could not parse principal from `{Principal}` (no colon is present separating the principal type from the principal name)";
        }

        return Host.Length == 0 ? "Invalid empty host" : null;
    }

    /// <summary>Whether this binding's pattern applies to resource <paramref name="name"/> of its type.</summary>
    public bool AppliesTo(string name) => PatternType == AclPatternType.Prefixed
        ? name.StartsWith(ResourceName, StringComparison.Ordinal)
        : ResourceName == name || ResourceName == Wildcard;
}
