using Tributary.Broker.Cluster;
using Tributary.Broker.Config;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Metadata;
using Tributary.Protocol;

namespace Tributary.Broker.Security.Authorization;

/// <summary>
/// Kafka's StandardAuthorizer over the ACLs in the metadata store, switched on by <c>authorizer.class.name</c>; without
/// it every request is allowed. A decision: super users may do anything; else the ACLs whose pattern applies to the
/// resource (its literal name, the literal "*", every prefix of the name) and whose principal (or User:*), host (or
/// "*") and operation match decide, a DENY over any ALLOW; a resource with no ACL at all is allowed only under
/// <c>allow.everyone.if.no.acl.found</c>. An ALLOW of READ, WRITE, DELETE or ALTER implies DESCRIBE, ALTER_CONFIGS
/// implies DESCRIBE_CONFIGS, ALL is every operation; a DENY applies to its own operation (or ALL) only.
/// On a single node the metadata store's ACLs are the only copy: whatever replaces them there (CreateAcls, DeleteAcls,
/// a snapshot read at start) decides the next request. In cluster mode (<see cref="UseCluster"/>) the ACLs are the
/// cluster's, in etcd, as the broker's cache holds them; the local store's are not used. Reads take no lock:
/// decisions use an immutable index of the ACL array in force, built again when another one replaces it.
/// </summary>
public sealed class Authorizer
{
    /// <summary>The one value authorizer.class.name accepts besides empty (no authorizer).</summary>
    public const string StandardAuthorizerClass = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";

    private readonly MetadataStore _store;
    private readonly Func<BrokerConfig> _config;
    private readonly Lock _writeLock = new();
    private IndexedAcls _indexed;
    private ClusterNode? _cluster;

    /// <param name="config">The configuration in force (super.users and the others may change dynamically).</param>
    public Authorizer(MetadataStore store, Func<BrokerConfig> config)
    {
        _store = store;
        _config = config;
        _indexed = new IndexedAcls(store.Acls);
    }

    public bool Enabled => _config().AuthorizerClassName.Length > 0;

    /// <summary>Every stored ACL: the cluster's in cluster mode, else the metadata store's.</summary>
    public IReadOnlyList<AclBinding> Acls => Volatile.Read(ref _cluster)?.Acls ?? _store.Acls;

    /// <summary>Cluster mode: the ACLs are the cluster's from now on (read from the node's cache, changed in etcd).</summary>
    public void UseCluster(ClusterNode cluster) => Volatile.Write(ref _cluster, cluster);

    /// <summary>Whether the connection's principal may perform <paramref name="operation"/> on the resource.</summary>
    public bool Authorize(ConnectionInfo connection, AclOperation operation, AclResourceType type, string name) =>
        !Enabled || Authorize(connection.Principal, HostOf(connection), operation, type, name);

    public bool Authorize(RequestContext context, AclOperation operation, AclResourceType type, string name) =>
        Authorize(context.Connection, operation, type, name);

    /// <summary>
    /// A heartbeat's check for consumer and share groups: READ on the group, then DESCRIBE on every subscribed topic, so
    /// a member cannot learn that a topic exists by subscribing to it. None when both are allowed.
    /// </summary>
    public ErrorCode HeartbeatDenied(RequestContext context, string groupId, IReadOnlyList<string>? subscribedTopics) =>
        !Authorize(context, AclOperation.Read, AclResourceType.Group, groupId) ? ErrorCode.GroupAuthorizationFailed
        : subscribedTopics?.Any(t => !Authorize(context, AclOperation.Describe, AclResourceType.Topic, t)) == true ? ErrorCode.TopicAuthorizationFailed
        : ErrorCode.None;

    /// <summary>Whether the connection may perform the operation on the cluster (kafka-cluster).</summary>
    public bool AuthorizeCluster(RequestContext context, AclOperation operation) =>
        Authorize(context.Connection, operation, AclResourceType.Cluster, AclBinding.ClusterName);

    public bool Authorize(string principal, string host, AclOperation operation, AclResourceType type, string name)
    {
        var config = _config();
        if (config.AuthorizerClassName.Length == 0 || config.SuperUsers.Contains(principal))
        {
            return true;
        }

        return Index.Decide(principal, host, operation, type, name) switch
        {
            Decision.Allow => true,
            Decision.Deny => false,
            _ => config.AllowEveryoneIfNoAclFound,
        };
    }

    /// <summary>
    /// Whether the principal may perform the operation on some resource of the type (Kafka's authorizeByResourceType,
    /// KIP-679: idempotent producers need WRITE on any topic): an ALLOW binding that no DENY of the same operation
    /// covers. A DENY on the literal "*" refuses all.
    /// </summary>
    public bool AuthorizeAny(ConnectionInfo connection, AclOperation operation, AclResourceType type)
    {
        var config = _config();
        var principal = connection.Principal;
        if (config.AuthorizerClassName.Length == 0 || config.SuperUsers.Contains(principal))
        {
            return true;
        }

        var host = HostOf(connection);
        var matching = Index.All
            .Where(a => a.ResourceType == type && (a.Operation == operation || a.Operation == AclOperation.All) && AclIndex.EntryMatches(a, principal, host))
            .ToList();
        var denied = matching.Where(a => a.Permission == AclPermissionType.Deny).ToList();
        if (denied.Any(d => d.PatternType == AclPatternType.Literal && d.ResourceName == AclBinding.Wildcard))
        {
            return false;
        }

        return matching.Any(allow => allow.Permission == AclPermissionType.Allow && !denied.Any(deny => deny.PatternType == AclPatternType.Prefixed
            ? allow.ResourceName.StartsWith(deny.ResourceName, StringComparison.Ordinal)
            : allow.PatternType == AclPatternType.Literal && deny.ResourceName == allow.ResourceName));
    }

    /// <summary>
    /// KIP-430's bit field (bit n for AclOperation n) of the operations Kafka defines for the resource type that the
    /// connection may perform on it.
    /// </summary>
    public int AuthorizedOperations(ConnectionInfo connection, AclResourceType type, string name)
    {
        var bits = 0;
        foreach (var operation in SupportedOperations(type))
        {
            if (Authorize(connection, operation, type, name))
            {
                bits |= 1 << (int)operation;
            }
        }

        return bits;
    }

    /// <summary>The operations Kafka defines for a resource type (AclEntry.supportedOperations).</summary>
    public static IReadOnlyList<AclOperation> SupportedOperations(AclResourceType type) => type switch
    {
        AclResourceType.Topic => [AclOperation.Read, AclOperation.Write, AclOperation.Create, AclOperation.Describe, AclOperation.Delete, AclOperation.Alter, AclOperation.DescribeConfigs, AclOperation.AlterConfigs],
        AclResourceType.Group => [AclOperation.Read, AclOperation.Describe, AclOperation.Delete, AclOperation.DescribeConfigs, AclOperation.AlterConfigs],
        AclResourceType.Cluster => [AclOperation.Create, AclOperation.ClusterAction, AclOperation.DescribeConfigs, AclOperation.AlterConfigs, AclOperation.IdempotentWrite, AclOperation.Alter, AclOperation.Describe],
        AclResourceType.TransactionalId => [AclOperation.Describe, AclOperation.Write, AclOperation.TwoPhaseCommit],
        AclResourceType.DelegationToken => [AclOperation.Describe],
        AclResourceType.User => [AclOperation.CreateTokens, AclOperation.DescribeTokens],
        _ => [],
    };

    /// <summary>The stored bindings the filter selects.</summary>
    public IReadOnlyList<AclBinding> Describe(AclBindingFilter filter) => [.. Acls.Where(filter.Matches)];

    /// <summary>
    /// Stores the valid bindings, all in one durable change (one already stored is not stored twice); answers, per
    /// binding, why it was refused or null. In cluster mode the change is one compare-and-swap in etcd: a change that
    /// would pass <see cref="ClusterNode.AclsBytesMax"/> refuses every valid binding, and
    /// <see cref="ClusterTimeoutException"/> means etcd did not commit it.
    /// </summary>
    /// <param name="cancellationToken">In cluster mode: ends the wait for etcd.</param>
    public IReadOnlyList<string?> Create(IReadOnlyList<AclBinding> bindings, CancellationToken cancellationToken = default)
    {
        var errors = bindings.Select(b => b.Validate()).ToArray();
        var valid = bindings.Where((_, i) => errors[i] is null).ToList();
        var change = Change(current =>
        {
            var known = new HashSet<AclBinding>(current);
            var added = valid.Where(known.Add).ToList();
            return added.Count > 0 ? [.. current, .. added] : null;
        }, cancellationToken);
        if (change == AclChange.TooLarge)
        {
            var refusal = $"the cluster's ACLs would take more than {ClusterNode.AclsBytesMax} bytes in etcd";
            return [.. errors.Select(e => e ?? refusal)];
        }

        return errors;
    }

    /// <summary>
    /// Removes the bindings the filters select, in one durable change; per filter, those it removed (each binding
    /// once). In cluster mode <see cref="ClusterTimeoutException"/> means etcd did not commit it, and nothing was removed.
    /// </summary>
    /// <param name="cancellationToken">In cluster mode: ends the wait for etcd.</param>
    public IReadOnlyList<IReadOnlyList<AclBinding>> Delete(IReadOnlyList<AclBindingFilter> filters, CancellationToken cancellationToken = default)
    {
        var results = new List<IReadOnlyList<AclBinding>>(filters.Count);
        Change(current =>
        {
            // In cluster mode this runs again after a lost compare-and-swap: the results are those of the last run.
            results.Clear();
            var remaining = new HashSet<AclBinding>(current);
            foreach (var filter in filters)
            {
                var removed = remaining.Where(filter.Matches).ToList();
                remaining.ExceptWith(removed);
                results.Add(removed);
            }

            return results.Any(r => r.Count > 0) ? [.. current.Where(remaining.Contains)] : null;
        }, cancellationToken);
        return results;
    }

    // Applies a change (the ACLs it makes of the current ones, or null for none) to the ACLs in force: the cluster's,
    // where it may run more than once, or the metadata store's under the write lock.
    private AclChange Change(Func<IReadOnlyList<AclBinding>, AclBinding[]?> change, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _cluster) is { } cluster)
        {
            return cluster.ChangeAclsAsync(change, cancellationToken).GetAwaiter().GetResult();
        }

        lock (_writeLock)
        {
            if (change(_store.Acls) is not { } replacement)
            {
                return AclChange.Unchanged;
            }

            _store.SetAcls(replacement);
            return AclChange.Written;
        }
    }

    // The index of the ACLs in force; two threads seeing a change at once may both build it, which is harmless.
    private AclIndex Index
    {
        get
        {
            var acls = Acls;
            var indexed = Volatile.Read(ref _indexed);
            if (!ReferenceEquals(indexed.Source, acls))
            {
                indexed = new IndexedAcls(acls);
                Volatile.Write(ref _indexed, indexed);
            }

            return indexed.Index;
        }
    }

    /// <summary>The client's address as Kafka matches ACL hosts (InetAddress.getHostAddress(): no leading "/").</summary>
    private static string HostOf(ConnectionInfo connection) => connection.ClientHost.StartsWith('/') ? connection.ClientHost[1..] : connection.ClientHost;

    private sealed record IndexedAcls(IReadOnlyList<AclBinding> Source)
    {
        public AclIndex Index { get; } = new(Source);
    }

    internal enum Decision
    {
        NoAcls,
        Allow,
        Deny,
    }
}
