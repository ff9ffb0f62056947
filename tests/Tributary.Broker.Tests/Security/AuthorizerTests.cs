using Tributary.Broker.Security.Authorization;
using static Tributary.Broker.Security.Authorization.AclOperation;
using static Tributary.Broker.Security.Authorization.AclPermissionType;
using static Tributary.Broker.Security.Authorization.AclResourceType;

namespace Tributary.Broker.Tests.Security;

/// <summary>
/// The authorizer's decisions as Kafka's StandardAuthorizer makes them: literal, prefixed and wildcard patterns, the
/// User:* principal, hosts, DENY over ALLOW, implied operations, super users, allow.everyone.if.no.acl.found, and the
/// filters DescribeAcls and DeleteAcls select with.
/// </summary>
public sealed class AuthorizerTests : IDisposable
{
    private const string Alice = "User:alice";
    private const string Bob = "User:bob";
    private const string Host = "10.0.0.1";

    private readonly TestBroker _broker = new("authorizer.class.name=" + Authorizer.StandardAuthorizerClass, "super.users=User:admin; User:ops");

    private Authorizer Authorizer => _broker.Core.Authorizer;

    private static AclBinding Acl(AclResourceType type, string name, AclOperation operation, AclPermissionType permission = Allow,
        string principal = Alice, string host = "*", AclPatternType pattern = AclPatternType.Literal) =>
        new(type, name, pattern, principal, host, operation, permission);

    private void Add(params AclBinding[] acls) => Assert.All(Authorizer.Create(acls), Assert.Null);

    private bool Allowed(string principal, AclOperation operation, AclResourceType type, string name, string host = Host) =>
        Authorizer.Authorize(principal, host, operation, type, name);

    [Fact]
    public void A_literal_acl_allows_its_resource_only_and_a_resource_without_acls_is_denied()
    {
        Add(Acl(Topic, "orders", Read));

        Assert.True(Allowed(Alice, Read, Topic, "orders"));
        Assert.False(Allowed(Alice, Read, Topic, "orders-2"));
        Assert.False(Allowed(Alice, Write, Topic, "orders"));
        Assert.False(Allowed(Bob, Read, Topic, "orders"));
        Assert.False(Allowed(Alice, Read, Group, "orders"));
    }

    [Fact]
    public void A_prefixed_acl_covers_every_name_starting_with_it()
    {
        Add(Acl(Topic, "sales-", Write, pattern: AclPatternType.Prefixed));

        Assert.True(Allowed(Alice, Write, Topic, "sales-"));
        Assert.True(Allowed(Alice, Write, Topic, "sales-eu"));
        Assert.False(Allowed(Alice, Write, Topic, "sales"));
        Assert.False(Allowed(Alice, Write, Topic, "presales-eu"));
    }

    [Fact]
    public void The_wildcard_resource_and_the_wildcard_principal_match_everything()
    {
        Add(Acl(Group, "*", Read), Acl(Topic, "public", Read, principal: "User:*"));

        Assert.True(Allowed(Alice, Read, Group, "any-group"));
        Assert.False(Allowed(Bob, Read, Group, "any-group"));
        Assert.True(Allowed(Bob, Read, Topic, "public"));
        Assert.True(Allowed("User:ANONYMOUS", Read, Topic, "public"));
    }

    [Fact]
    public void A_deny_wins_over_any_allow_whatever_pattern_carries_it()
    {
        Add(Acl(Topic, "*", All), Acl(Topic, "secret-", Read, Deny, pattern: AclPatternType.Prefixed), Acl(Topic, "orders", Write, Deny, principal: "User:*"));

        Assert.True(Allowed(Alice, Read, Topic, "orders"));
        Assert.False(Allowed(Alice, Write, Topic, "orders"));
        Assert.False(Allowed(Alice, Read, Topic, "secret-plans"));
        Assert.True(Allowed(Alice, Write, Topic, "secret-plans"));
    }

    [Fact]
    public void Read_write_delete_and_alter_imply_describe_and_alter_configs_implies_describe_configs_but_only_when_allowed()
    {
        Add(Acl(Topic, "r", Read), Acl(Topic, "w", Write), Acl(Topic, "d", Delete), Acl(Topic, "a", Alter), Acl(Topic, "c", AlterConfigs), Acl(Topic, "x", Create));

        Assert.All(new[] { "r", "w", "d", "a" }, t => Assert.True(Allowed(Alice, Describe, Topic, t)));
        Assert.False(Allowed(Alice, Describe, Topic, "x"));
        Assert.False(Allowed(Alice, Describe, Topic, "c"));
        Assert.True(Allowed(Alice, DescribeConfigs, Topic, "c"));
        Assert.False(Allowed(Alice, DescribeConfigs, Topic, "a"));

        // A DENY of READ does not deny DESCRIBE: only its own operation, or ALL.
        Add(Acl(Topic, "w", Read, Deny), Acl(Topic, "d", All, Deny));
        Assert.True(Allowed(Alice, Describe, Topic, "w"));
        Assert.False(Allowed(Alice, Describe, Topic, "d"));
    }

    [Fact]
    public void Super_users_may_do_anything_even_against_a_deny()
    {
        Add(Acl(AclResourceType.Cluster, AclBinding.ClusterName, All, Deny, principal: "User:*"));

        Assert.True(Allowed("User:admin", Alter, AclResourceType.Cluster, AclBinding.ClusterName));
        Assert.True(Allowed("User:ops", Write, Topic, "no-acls"));
        Assert.False(Allowed(Alice, Describe, AclResourceType.Cluster, AclBinding.ClusterName));
    }

    [Fact]
    public void A_host_acl_applies_to_that_client_address_only()
    {
        Add(Acl(Topic, "t", Read, host: Host), Acl(Topic, "t", Write, Deny, host: "10.0.0.2"), Acl(Topic, "t", Write, host: "*"));

        Assert.True(Allowed(Alice, Read, Topic, "t", Host));
        Assert.False(Allowed(Alice, Read, Topic, "t", "10.0.0.9"));
        Assert.True(Allowed(Alice, Write, Topic, "t", Host));
        Assert.False(Allowed(Alice, Write, Topic, "t", "10.0.0.2"));
    }

    [Fact]
    public void Allow_everyone_if_no_acl_found_opens_only_resources_that_have_no_acl_at_all()
    {
        using var broker = new TestBroker("authorizer.class.name=" + Authorizer.StandardAuthorizerClass, "allow.everyone.if.no.acl.found=true");
        broker.Core.Authorizer.Create([Acl(Topic, "guarded", Read)]);

        Assert.True(broker.Core.Authorizer.Authorize(Bob, Host, Write, Topic, "open"));
        Assert.False(broker.Core.Authorizer.Authorize(Bob, Host, Read, Topic, "guarded"));
        Assert.True(broker.Core.Authorizer.Authorize(Alice, Host, Read, Topic, "guarded"));
    }

    [Fact]
    public void Without_an_authorizer_everything_is_allowed()
    {
        using var broker = new TestBroker();

        Assert.False(broker.Core.Authorizer.Enabled);
        Assert.True(broker.Core.Authorizer.Authorize(Bob, Host, Alter, AclResourceType.Cluster, AclBinding.ClusterName));
    }

    [Fact]
    public void Authorized_operations_hold_the_bits_of_the_allowed_operations()
    {
        Add(Acl(Group, "g", Read, principal: "User:ANONYMOUS"));

        var bits = Authorizer.AuthorizedOperations(new Dispatch.ConnectionInfo("c", null), Group, "g");

        Assert.Equal((1 << (int)Read) | (1 << (int)Describe), bits);
    }

    [Fact]
    public void Write_on_any_topic_is_an_allow_no_deny_covers()
    {
        var anonymous = new Dispatch.ConnectionInfo("c", null);
        Assert.False(Authorizer.AuthorizeAny(anonymous, Write, Topic));

        Add(Acl(Topic, "logs-", Write, principal: "User:ANONYMOUS", pattern: AclPatternType.Prefixed), Acl(Topic, "logs", Write, Deny, principal: "User:ANONYMOUS", pattern: AclPatternType.Prefixed));
        Assert.False(Authorizer.AuthorizeAny(anonymous, Write, Topic));

        Add(Acl(Topic, "metrics", Write, principal: "User:ANONYMOUS"));
        Assert.True(Authorizer.AuthorizeAny(anonymous, Write, Topic));

        Add(Acl(Topic, "*", Write, Deny, principal: "User:*"));
        Assert.False(Authorizer.AuthorizeAny(anonymous, Write, Topic));
    }

    [Fact]
    public void Creating_checks_each_binding_as_kafka_does_and_stores_the_valid_ones_once()
    {
        var errors = Authorizer.Create(
        [
            Acl(Topic, "ok", Read),
            Acl(Topic, "ok", Read),
            Acl(AclResourceType.Any, "t", Read),
            Acl(Topic, "t", AclOperation.Any),
            Acl(Topic, "t", Read, AclPermissionType.Any),
            Acl(Topic, "t", Read, pattern: AclPatternType.Match),
            Acl(Topic, "", Read),
            Acl(AclResourceType.Cluster, "other", Alter),
            Acl(Topic, "t", Read, principal: "alice"),
        ]);

        Assert.Equal([null, null], errors.Take(2));
        Assert.All(errors.Skip(2), Assert.NotNull);
        Assert.Equal("The only valid name for the CLUSTER resource is kafka-cluster", errors[7]);
        Assert.Equal([Acl(Topic, "ok", Read)], Authorizer.Acls);
    }

    [Fact]
    public void Filters_select_as_kafkas_acl_binding_filter()
    {
        Add(Acl(Topic, "orders", Read), Acl(Topic, "*", Describe, principal: Bob), Acl(Topic, "ord", Write, pattern: AclPatternType.Prefixed), Acl(Group, "orders", Read));

        AclBindingFilter Filter(AclResourceType type, string? name, AclPatternType pattern, string? principal = null) =>
            new(type, name, pattern, principal, null, AclOperation.Any, AclPermissionType.Any);

        Assert.Equal(3, Authorizer.Describe(Filter(Topic, "orders", AclPatternType.Match)).Count);
        Assert.Single(Authorizer.Describe(Filter(Topic, "orders", AclPatternType.Any)));
        Assert.Single(Authorizer.Describe(Filter(Topic, null, AclPatternType.Prefixed)));
        Assert.Equal(2, Authorizer.Describe(Filter(AclResourceType.Any, "orders", AclPatternType.Literal)).Count);
        Assert.Single(Authorizer.Describe(Filter(AclResourceType.Any, null, AclPatternType.Any, Bob)));

        var deleted = Authorizer.Delete([Filter(Topic, "orders", AclPatternType.Match), Filter(AclResourceType.Any, null, AclPatternType.Any)]);

        Assert.Equal(3, deleted[0].Count);
        Assert.Equal([Acl(Group, "orders", Read)], deleted[1]);
        Assert.Empty(Authorizer.Acls);
    }

    [Fact]
    public void Ten_thousand_acls_decide_as_a_few_would()
    {
        var acls = Enumerable.Range(0, 10_000).Select(i => i % 2 == 0
            ? Acl(Topic, $"topic-{i}", Read, principal: $"User:u{i % 100}")
            : Acl(Topic, $"prefix-{i}-", Write, principal: $"User:u{i % 100}", pattern: AclPatternType.Prefixed)).ToArray();
        Add(acls);

        Assert.Equal(10_000, Authorizer.Acls.Count);
        Assert.True(Allowed("User:u42", Read, Topic, "topic-42"));
        Assert.False(Allowed("User:u43", Read, Topic, "topic-42"));
        Assert.True(Allowed("User:u43", Write, Topic, "prefix-43-x"));
        Assert.False(Allowed("User:u43", Write, Topic, "prefix-4-x"));
    }

    [Fact]
    public void Acls_replaced_in_the_metadata_store_decide_the_next_request()
    {
        _broker.Core.Metadata.SetAcls([Acl(Topic, "orders", Read)]);
        Assert.True(Allowed(Alice, Read, Topic, "orders"));

        // Creating and deleting start from the store's ACLs, not from an older copy.
        Add(Acl(Topic, "orders", Write));
        Assert.Equal([Acl(Topic, "orders", Read), Acl(Topic, "orders", Write)], _broker.Core.Metadata.Acls);

        _broker.Core.Metadata.SetAcls([Acl(Topic, "orders", Read, Deny)]);
        Assert.False(Allowed(Alice, Read, Topic, "orders"));
        Assert.False(Allowed(Alice, Write, Topic, "orders"));
        Assert.Equal([Acl(Topic, "orders", Read, Deny)], Authorizer.Acls);
    }

    [Fact]
    public void An_acl_change_the_disk_refuses_leaves_the_decisions_as_they_were()
    {
        var directory = Directory.CreateTempSubdirectory("tributary-authorizer-").FullName;
        var device = new FaultyDevice(new Storage.Devices.MemoryLogDevice());
        try
        {
            using var broker = TestBroker.OnDevice(directory, device, "authorizer.class.name=" + Authorizer.StandardAuthorizerClass);
            Assert.All(broker.Core.Authorizer.Create([Acl(Topic, "orders", Read)]), Assert.Null);
            device.Refuses = path => path.EndsWith(Metadata.MetadataStore.FileName + ".tmp", StringComparison.Ordinal);

            Assert.Throws<IOException>(() => broker.Core.Authorizer.Create([Acl(Topic, "orders", Read, Deny)]));
            Assert.Throws<IOException>(() => broker.Core.Metadata.SetAcls([]));

            Assert.True(broker.Core.Authorizer.Authorize(Alice, Host, Read, Topic, "orders"));
            Assert.Equal([Acl(Topic, "orders", Read)], broker.Core.Metadata.Acls);
        }
        finally
        {
            device.Refuses = _ => false;
            Directory.Delete(directory, recursive: true);
        }
    }

    public void Dispose() => _broker.Dispose();
}
