namespace Tributary.Broker.Security.Authorization;

/// <summary>
/// Which bindings DescribeAcls and DeleteAcls select, as Kafka's AclBindingFilter: ANY (or a null name, principal,
/// host) matches every value; pattern type ANY with a name selects bindings of exactly that name, MATCH selects every
/// binding that applies to the named resource (the literal name, the "*" wildcard, and prefixes of it).
/// </summary>
public sealed record AclBindingFilter(AclResourceType ResourceType, string? ResourceName, AclPatternType PatternType, string? Principal, string? Host,
    AclOperation Operation, AclPermissionType Permission)
{
    /// <summary>Why Kafka refuses this filter (INVALID_REQUEST): an UNKNOWN value in any field.</summary>
    public string? Validate() =>
        ResourceType == AclResourceType.Unknown || !Enum.IsDefined(ResourceType) || PatternType == AclPatternType.Unknown || !Enum.IsDefined(PatternType)
            || Operation == AclOperation.Unknown || !Enum.IsDefined(Operation) || Permission == AclPermissionType.Unknown || !Enum.IsDefined(Permission)
            ? "Filter contains UNKNOWN elements"
            : null;

    public bool Matches(AclBinding binding)
    {
        if (ResourceType != AclResourceType.Any && ResourceType != binding.ResourceType)
        {
            return false;
        }

        if (PatternType is not (AclPatternType.Any or AclPatternType.Match) && PatternType != binding.PatternType)
        {
            return false;
        }

        if (ResourceName is not null)
        {
            var nameMatches = PatternType == AclPatternType.Match ? binding.AppliesTo(ResourceName) : ResourceName == binding.ResourceName;
            if (!nameMatches)
            {
                return false;
            }
        }

        return (Principal is null || Principal == binding.Principal)
            && (Host is null || Host == binding.Host)
            && (Operation == AclOperation.Any || Operation == binding.Operation)
            && (Permission == AclPermissionType.Any || Permission == binding.Permission);
    }
}
