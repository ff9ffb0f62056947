using Tributary.Broker.Handlers;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.Security;

/// <summary>
/// CreateAcls, DescribeAcls and DeleteAcls through their wire encoding: Kafka's errors without an authorizer or
/// without the cluster permission, per-binding validation, grouping by resource, and ACLs that survive a restart.
/// </summary>
public sealed class AclHandlersTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tributary-acl-").FullName;

    private static CreateAclsRequest.AclCreation Creation(sbyte type, string name, sbyte operation, sbyte pattern = 3, string principal = "User:alice", sbyte permission = 3) =>
        new() { ResourceType = type, ResourceName = name, ResourcePatternType = pattern, Principal = principal, Host = "*", Operation = operation, PermissionType = permission };

    private static DescribeAclsRequest Everything => new() { ResourceTypeFilter = 1, ResourceNameFilter = null, PatternTypeFilter = 1, PrincipalFilter = null, HostFilter = null, Operation = 1, PermissionType = 1 };

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task Created_acls_are_described_by_resource_and_survive_a_restart(short version)
    {
        using (var broker = TestBroker.OnDisk(_directory, "authorizer.class.name=" + Authorizer.StandardAuthorizerClass, "super.users=User:ANONYMOUS"))
        {
            var created = await broker.SendAsync(new CreateAclsHandler(broker.Core), new CreateAclsRequest
            {
                Creations = [Creation(2, "orders", 3), Creation(2, "orders", 4), Creation(3, "app-", 3, pattern: 4), Creation(4, "elsewhere", 7)],
            }, version);

            Assert.Equal([0, 0, 0, (short)ErrorCode.InvalidRequest], created.Results.Select(r => r.ErrorCode));
            Assert.Equal("The only valid name for the CLUSTER resource is kafka-cluster", created.Results[3].ErrorMessage);
        }

        using var restarted = TestBroker.OnDisk(_directory, "authorizer.class.name=" + Authorizer.StandardAuthorizerClass, "super.users=User:ANONYMOUS");
        var described = await restarted.SendAsync(new DescribeAclsHandler(restarted.Core), Everything, version);

        Assert.Equal(0, described.ErrorCode);
        Assert.Equal([((sbyte)2, "orders", (sbyte)3, 2), ((sbyte)3, "app-", (sbyte)4, 1)], described.Resources.Select(r => (r.ResourceType, r.ResourceName, r.PatternType, r.Acls.Count)));
        Assert.Equal([(sbyte)3, (sbyte)4], described.Resources[0].Acls.Select(a => a.Operation));
        Assert.True(restarted.Core.Authorizer.Authorize("User:alice", "1.2.3.4", AclOperation.Read, AclResourceType.Group, "app-1"));
    }

    [Fact]
    public async Task Delete_removes_what_each_filter_matches_once_and_lists_it()
    {
        using var broker = new TestBroker("authorizer.class.name=" + Authorizer.StandardAuthorizerClass, "super.users=User:ANONYMOUS");
        await broker.SendAsync(new CreateAclsHandler(broker.Core), new CreateAclsRequest { Creations = [Creation(2, "a", 3), Creation(2, "b", 3), Creation(3, "g", 3)] }, 3);

        var deleted = await broker.SendAsync(new DeleteAclsHandler(broker.Core), new DeleteAclsRequest
        {
            Filters =
            [
                new DeleteAclsRequest.DeleteAclsFilter { ResourceTypeFilter = 2, ResourceNameFilter = "a", PatternTypeFilter = 2, PrincipalFilter = null, HostFilter = null, Operation = 1, PermissionType = 1 },
                new DeleteAclsRequest.DeleteAclsFilter { ResourceTypeFilter = 2, ResourceNameFilter = null, PatternTypeFilter = 1, PrincipalFilter = "User:alice", HostFilter = null, Operation = 3, PermissionType = 3 },
                new DeleteAclsRequest.DeleteAclsFilter { ResourceTypeFilter = 0, ResourceNameFilter = null, PatternTypeFilter = 1, PrincipalFilter = null, HostFilter = null, Operation = 1, PermissionType = 1 },
            ],
        }, 3);

        Assert.Equal([0, 0, (short)ErrorCode.InvalidRequest], deleted.FilterResults.Select(f => f.ErrorCode));
        Assert.Equal(["a"], deleted.FilterResults[0].MatchingAcls.Select(a => a.ResourceName));
        Assert.Equal(["b"], deleted.FilterResults[1].MatchingAcls.Select(a => a.ResourceName));
        Assert.Equal(["g"], broker.Core.Authorizer.Acls.Select(a => a.ResourceName));
    }

    [Fact]
    public async Task Without_an_authorizer_the_acl_apis_answer_security_disabled()
    {
        using var broker = new TestBroker();

        var created = await broker.SendAsync(new CreateAclsHandler(broker.Core), new CreateAclsRequest { Creations = [Creation(2, "t", 3)] }, 3);
        var described = await broker.SendAsync(new DescribeAclsHandler(broker.Core), Everything, 3);

        Assert.Equal((short)ErrorCode.SecurityDisabled, created.Results.Single().ErrorCode);
        Assert.Equal((short)ErrorCode.SecurityDisabled, described.ErrorCode);
        Assert.Empty(broker.Core.Authorizer.Acls);
    }

    [Fact]
    public async Task The_acl_apis_need_alter_or_describe_on_the_cluster()
    {
        using var broker = new TestBroker("authorizer.class.name=" + Authorizer.StandardAuthorizerClass);
        var describe = new DescribeAclsHandler(broker.Core);
        var create = new CreateAclsHandler(broker.Core);

        Assert.Equal((short)ErrorCode.ClusterAuthorizationFailed, (await broker.SendAsync(describe, Everything, 3)).ErrorCode);
        Assert.Equal((short)ErrorCode.ClusterAuthorizationFailed, (await broker.SendAsync(create, new CreateAclsRequest { Creations = [Creation(2, "t", 3)] }, 3)).Results.Single().ErrorCode);

        // DESCRIBE on the cluster lets DescribeAcls through, not CreateAcls (ALTER).
        broker.Core.Authorizer.Create([new AclBinding(AclResourceType.Cluster, AclBinding.ClusterName, AclPatternType.Literal, "User:ANONYMOUS", "*", AclOperation.Describe, AclPermissionType.Allow)]);
        Assert.Equal(0, (await broker.SendAsync(describe, Everything, 3)).ErrorCode);
        Assert.Equal((short)ErrorCode.ClusterAuthorizationFailed, (await broker.SendAsync(create, new CreateAclsRequest { Creations = [Creation(2, "t", 3)] }, 3)).Results.Single().ErrorCode);
        Assert.Single(broker.Core.Authorizer.Acls);
    }

    [Fact]
    public async Task Too_many_creations_or_filters_or_too_long_a_name_are_refused_whole_and_nothing_is_stored()
    {
        using var broker = new TestBroker("authorizer.class.name=" + Authorizer.StandardAuthorizerClass, "super.users=User:ANONYMOUS");
        var create = new CreateAclsHandler(broker.Core);

        var tooMany = await broker.SendAsync(create, new CreateAclsRequest
        {
            Creations = [.. Enumerable.Range(0, CreateAclsHandler.CreationsMax + 1).Select(i => Creation(2, "t" + i, 3))],
        }, 3);
        var tooLong = await broker.SendAsync(create, new CreateAclsRequest
        {
            Creations = [Creation(2, "fine", 3), Creation(2, new string('n', CreateAclsHandler.FieldCharsMax + 1), 3)],
        }, 3);
        var tooManyFilters = await broker.SendAsync(new DeleteAclsHandler(broker.Core), new DeleteAclsRequest
        {
            Filters = [.. Enumerable.Range(0, DeleteAclsHandler.FiltersMax + 1).Select(_ => new DeleteAclsRequest.DeleteAclsFilter
            {
                ResourceTypeFilter = 1, ResourceNameFilter = null, PatternTypeFilter = 1, PrincipalFilter = null, HostFilter = null, Operation = 1, PermissionType = 1,
            })],
        }, 3);

        Assert.Equal(CreateAclsHandler.CreationsMax + 1, tooMany.Results.Count);
        Assert.All(tooMany.Results, r => Assert.Equal((short)ErrorCode.InvalidRequest, r.ErrorCode));
        Assert.All(tooLong.Results, r => Assert.Equal((short)ErrorCode.InvalidRequest, r.ErrorCode));
        Assert.All(tooManyFilters.FilterResults, r => Assert.Equal((short)ErrorCode.InvalidRequest, r.ErrorCode));
        Assert.Empty(broker.Core.Authorizer.Acls);

        // At the limits, the same requests are taken.
        var atLimit = await broker.SendAsync(create, new CreateAclsRequest
        {
            Creations = [.. Enumerable.Range(0, CreateAclsHandler.CreationsMax - 1).Select(i => Creation(2, "t" + i, 3)), Creation(2, new string('n', CreateAclsHandler.FieldCharsMax), 3)],
        }, 3);
        Assert.All(atLimit.Results, r => Assert.Equal(0, r.ErrorCode));
        Assert.Equal(CreateAclsHandler.CreationsMax, broker.Core.Authorizer.Acls.Count);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
