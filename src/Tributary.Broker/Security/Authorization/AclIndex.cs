namespace Tributary.Broker.Security.Authorization;

/// <summary>
/// An immutable index of ACLs for decisions: per resource type, literal bindings by name and prefixed bindings by
/// prefix, with the lengths prefixes come in, so a decision costs a few dictionary lookups however many ACLs exist.
/// </summary>
internal sealed class AclIndex
{
    private readonly Dictionary<AclResourceType, TypeAcls> _byType = [];

    public AclIndex(IReadOnlyList<AclBinding> acls)
    {
        All = [.. acls];
        foreach (var group in acls.GroupBy(a => a.ResourceType))
        {
            _byType[group.Key] = new TypeAcls(group);
        }
    }

    public AclBinding[] All { get; }

    public Authorizer.Decision Decide(string principal, string host, AclOperation operation, AclResourceType type, string name)
    {
        if (!_byType.TryGetValue(type, out var acls))
        {
            return Authorizer.Decision.NoAcls;
        }

        var found = false;
        var allowed = false;
        if (Evaluate(acls.Literal.GetValueOrDefault(name), principal, host, operation, ref found, ref allowed)
            || Evaluate(acls.Literal.GetValueOrDefault(AclBinding.Wildcard), principal, host, operation, ref found, ref allowed))
        {
            return Authorizer.Decision.Deny;
        }

        foreach (var length in acls.PrefixLengths)
        {
            if (length > name.Length)
            {
                break;
            }

            if (acls.PrefixedBySpan.TryGetValue(name.AsSpan(0, length), out var prefixed) && Evaluate(prefixed, principal, host, operation, ref found, ref allowed))
            {
                return Authorizer.Decision.Deny;
            }
        }

        return allowed ? Authorizer.Decision.Allow : found ? Authorizer.Decision.Deny : Authorizer.Decision.NoAcls;
    }

    public static bool EntryMatches(AclBinding acl, string principal, string host) =>
        (acl.Principal == principal || acl.Principal == AclBinding.WildcardPrincipal) && (acl.Host == AclBinding.Wildcard || acl.Host == host);

    // True when a matching DENY decides; sets found when the resource has any ACL, allowed when an ALLOW matches.
    private static bool Evaluate(AclBinding[]? acls, string principal, string host, AclOperation operation, ref bool found, ref bool allowed)
    {
        if (acls is null)
        {
            return false;
        }

        found = true;
        foreach (var acl in acls)
        {
            if (!EntryMatches(acl, principal, host) || !OperationMatches(acl, operation))
            {
                continue;
            }

            if (acl.Permission == AclPermissionType.Deny)
            {
                return true;
            }

            allowed = true;
        }

        return false;
    }

    private static bool OperationMatches(AclBinding acl, AclOperation operation)
    {
        if (acl.Operation == AclOperation.All || acl.Operation == operation)
        {
            return true;
        }

        // Only an ALLOW implies other operations.
        return acl.Permission == AclPermissionType.Allow && operation switch
        {
            AclOperation.Describe => acl.Operation is AclOperation.Read or AclOperation.Write or AclOperation.Delete or AclOperation.Alter,
            AclOperation.DescribeConfigs => acl.Operation == AclOperation.AlterConfigs,
            _ => false,
        };
    }

    private sealed class TypeAcls
    {
        public TypeAcls(IEnumerable<AclBinding> acls)
        {
            Literal = acls.Where(a => a.PatternType == AclPatternType.Literal).GroupBy(a => a.ResourceName)
                .ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
            var prefixed = acls.Where(a => a.PatternType == AclPatternType.Prefixed).GroupBy(a => a.ResourceName)
                .ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
            PrefixedBySpan = prefixed.GetAlternateLookup<ReadOnlySpan<char>>();
            PrefixLengths = [.. prefixed.Keys.Select(k => k.Length).Distinct().Order()];
        }

        public Dictionary<string, AclBinding[]> Literal { get; }

        public Dictionary<string, AclBinding[]>.AlternateLookup<ReadOnlySpan<char>> PrefixedBySpan { get; }

        public int[] PrefixLengths { get; }
    }
}
