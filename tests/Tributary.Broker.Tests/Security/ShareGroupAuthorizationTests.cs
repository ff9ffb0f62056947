using Tributary.Broker.Security.Authorization;
using Tributary.Broker.Tests.ShareGroups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using static Tributary.Broker.Security.Authorization.AclOperation;

namespace Tributary.Broker.Tests.Security;

/// <summary>
/// The share-group APIs check what Kafka's KafkaApis checks, for a client (User:ANONYMOUS) holding only the ACLs a
/// test grants it: refused without them, with Kafka's error codes, and served once they are granted.
/// </summary>
public sealed class ShareGroupAuthorizationTests : IDisposable
{
    private const string Group = ShareTestBroker.Group;
    private const string Topic = ShareTestBroker.Topic;

    private readonly ShareTestBroker _kafka = new(settings: "authorizer.class.name=" + Authorizer.StandardAuthorizerClass);

    public void Dispose() => _kafka.Dispose();

    private static AclBinding Binding(AclResourceType type, string name, AclOperation operation, AclPermissionType permission) =>
        new(type, name, AclPatternType.Literal, "User:ANONYMOUS", "*", operation, permission);

    private void Grant(AclResourceType type, string name, AclOperation operation, AclPermissionType permission = AclPermissionType.Allow) =>
        Assert.All(_kafka.Core.Authorizer.Create([Binding(type, name, operation, permission)]), Assert.Null);

    private void Revoke(AclResourceType type, string name, AclOperation operation, AclPermissionType permission) =>
        Assert.Single(Assert.Single(_kafka.Core.Authorizer.Delete([new AclBindingFilter(type, name, AclPatternType.Literal, "User:ANONYMOUS", "*", operation, permission)])));

    [Fact]
    public async Task Share_group_heartbeat_needs_read_on_the_group_and_describe_on_subscribed_topics()
    {
        Assert.Equal((short)ErrorCode.GroupAuthorizationFailed, (await _kafka.HeartbeatAsync("m1", 0, Topic)).ErrorCode);

        Grant(AclResourceType.Group, Group, Read);
        Assert.Equal((short)ErrorCode.TopicAuthorizationFailed, (await _kafka.HeartbeatAsync("m1", 0, Topic)).ErrorCode);
        Assert.Null(_kafka.Core.ShareGroups.Describe(Group));

        Grant(AclResourceType.Topic, Topic, Describe);
        var joined = await _kafka.HeartbeatAsync("m1", 0, Topic);
        Assert.Equal(0, joined.ErrorCode);
        Assert.Equal(1, joined.MemberEpoch);
    }

    [Fact]
    public async Task Share_group_describe_needs_describe_on_the_group_and_on_assigned_topics()
    {
        Grant(AclResourceType.Group, Group, Read);
        Grant(AclResourceType.Topic, Topic, Describe);
        Assert.Equal(0, (await _kafka.HeartbeatAsync("m1", 0, Topic)).ErrorCode);
        var request = new ShareGroupDescribeRequest { GroupIds = [Group, "other"], IncludeAuthorizedOperations = true };

        var allowed = await _kafka.SendAsync(_kafka.Describe, request, 1);
        Assert.Equal([(short)0, (short)ErrorCode.GroupAuthorizationFailed], allowed.Groups.Select(g => g.ErrorCode));
        Assert.Equal("m1", Assert.Single(allowed.Groups[0].Members).MemberId);
        Assert.Equal((1 << (int)Read) | (1 << (int)Describe), allowed.Groups[0].AuthorizedOperations);

        // The member's assignment names a topic the caller may no longer DESCRIBE: the whole group is refused.
        Grant(AclResourceType.Topic, Topic, Describe, AclPermissionType.Deny);
        var denied = (await _kafka.SendAsync(_kafka.Describe, request, 1)).Groups[0];
        Assert.Equal((short)ErrorCode.TopicAuthorizationFailed, denied.ErrorCode);
        Assert.Empty(denied.Members);
    }

    [Fact]
    public async Task Share_fetch_needs_read_on_the_group_and_acquires_only_from_readable_topics()
    {
        _kafka.Produce(0, "a", "b");
        Assert.Equal((short)ErrorCode.GroupAuthorizationFailed, (await _kafka.FetchAsync("m1", 0)).ErrorCode);

        Grant(AclResourceType.Group, Group, Read);
        Grant(AclResourceType.Topic, Topic, Describe);
        Assert.Equal(0, (await _kafka.HeartbeatAsync("m1", 0, Topic)).ErrorCode);
        var refused = await _kafka.FetchAsync("m1", 0, maxWaitMs: 60_000);
        var partition = refused.Responses.Single().Partitions.Single();
        Assert.Equal((short)ErrorCode.TopicAuthorizationFailed, partition.ErrorCode);
        Assert.Empty(partition.AcquiredRecords);

        Grant(AclResourceType.Topic, Topic, Read);
        Assert.Equal([(0L, 1L, (short)1)], ShareTestBroker.Acquired(await _kafka.FetchAsync("m1", 1)));

        // Acknowledgements on a topic the member may not READ are refused and not applied: once READ is back the same
        // acknowledgement succeeds, which it could not had the records been accepted already.
        Grant(AclResourceType.Topic, Topic, Read, AclPermissionType.Deny);
        var deniedAck = await _kafka.FetchAsync("m1", 2, acks: [(0, 0, 1, AcknowledgeKind.Accept)]);
        Assert.Equal((short)ErrorCode.TopicAuthorizationFailed, ShareTestBroker.AckError(deniedAck));
        Revoke(AclResourceType.Topic, Topic, Read, AclPermissionType.Deny);
        Assert.Equal(0, ShareTestBroker.AckError(await _kafka.FetchAsync("m1", 3, acks: [(0, 0, 1, AcknowledgeKind.Accept)])));
    }

    [Fact]
    public async Task Share_acknowledge_needs_read_on_the_group_and_on_each_topic()
    {
        Grant(AclResourceType.Group, Group, Read);
        Grant(AclResourceType.Topic, Topic, Read);
        _kafka.Produce(0, "a");
        Assert.Equal(0, (await _kafka.HeartbeatAsync("m1", 0, Topic)).ErrorCode);
        Assert.Equal([(0L, 0L, (short)1)], ShareTestBroker.Acquired(await _kafka.FetchAsync("m1", 0)));

        var otherGroup = await _kafka.SendAsync(_kafka.Acknowledge, new ShareAcknowledgeRequest { GroupId = "other", MemberId = "m1", ShareSessionEpoch = 1 }, 1);
        Assert.Equal((short)ErrorCode.GroupAuthorizationFailed, otherGroup.ErrorCode);

        Grant(AclResourceType.Topic, Topic, Read, AclPermissionType.Deny);
        Assert.Equal((short)ErrorCode.TopicAuthorizationFailed, ShareTestBroker.AckError(await _kafka.AcknowledgeAsync("m1", 1, (0, 0, 0, AcknowledgeKind.Accept))));
        Revoke(AclResourceType.Topic, Topic, Read, AclPermissionType.Deny);
        Assert.Equal(0, ShareTestBroker.AckError(await _kafka.AcknowledgeAsync("m1", 2, (0, 0, 0, AcknowledgeKind.Accept))));
    }

    [Fact]
    public async Task Altering_share_group_offsets_needs_read_on_the_group_and_each_topic()
    {
        _kafka.Produce(0, "a", "b", "c");
        var alter = new AlterShareGroupOffsetsRequest { GroupId = Group, Topics = [new() { TopicName = Topic, Partitions = [new() { PartitionIndex = 0, StartOffset = 2 }] }] };

        Assert.Equal((short)ErrorCode.GroupAuthorizationFailed, (await _kafka.SendAsync(new Handlers.AlterShareGroupOffsetsHandler(_kafka.Core), alter, 0)).ErrorCode);

        Grant(AclResourceType.Group, Group, Read);
        var refused = await _kafka.SendAsync(new Handlers.AlterShareGroupOffsetsHandler(_kafka.Core), alter, 0);
        Assert.Equal(0, refused.ErrorCode);
        Assert.Equal((short)ErrorCode.TopicAuthorizationFailed, refused.Responses.Single().Partitions.Single().ErrorCode);
        Assert.Empty(_kafka.Core.ShareGroups.StartOffsets(Group));

        Grant(AclResourceType.Topic, Topic, Read);
        var altered = await _kafka.SendAsync(new Handlers.AlterShareGroupOffsetsHandler(_kafka.Core), alter, 0);
        Assert.Equal(0, altered.Responses.Single().Partitions.Single().ErrorCode);
        Assert.Equal([(_kafka.TopicId, 0, 2L)], _kafka.Core.ShareGroups.StartOffsets(Group));
    }

    [Fact]
    public async Task Describing_share_group_offsets_needs_describe_on_the_group_and_each_topic()
    {
        Grant(AclResourceType.Group, Group, Read);
        Grant(AclResourceType.Topic, Topic, Read);
        _kafka.Produce(0, "a", "b", "c");
        await _kafka.SendAsync(new Handlers.AlterShareGroupOffsetsHandler(_kafka.Core), new AlterShareGroupOffsetsRequest
        {
            GroupId = Group,
            Topics = [new() { TopicName = Topic, Partitions = [new() { PartitionIndex = 0, StartOffset = 2 }] }],
        }, 0);
        var handler = new Handlers.DescribeShareGroupOffsetsHandler(_kafka.Core);
        DescribeShareGroupOffsetsRequest Named() => new() { Groups = [new() { GroupId = Group, Topics = [new() { TopicName = Topic, Partitions = [0] }] }, new() { GroupId = "other", Topics = null }] };
        DescribeShareGroupOffsetsRequest All() => new() { Groups = [new() { GroupId = Group, Topics = null }] };

        var allowed = await _kafka.SendAsync(handler, Named(), 1);
        Assert.Equal([(short)0, (short)ErrorCode.GroupAuthorizationFailed], allowed.Groups.Select(g => g.ErrorCode));
        Assert.Equal(2, allowed.Groups[0].Topics.Single().Partitions.Single().StartOffset);

        Grant(AclResourceType.Topic, Topic, Describe, AclPermissionType.Deny);
        var named = (await _kafka.SendAsync(handler, Named(), 1)).Groups[0].Topics.Single().Partitions.Single();
        var all = (await _kafka.SendAsync(handler, All(), 1)).Groups.Single();
        Assert.Equal(((short)ErrorCode.TopicAuthorizationFailed, -1L), (named.ErrorCode, named.StartOffset));
        Assert.Equal(0, all.ErrorCode);
        Assert.Empty(all.Topics);
    }

    [Fact]
    public async Task Deleting_share_group_offsets_needs_delete_on_the_group_and_read_on_each_topic()
    {
        Grant(AclResourceType.Group, Group, Read);
        Grant(AclResourceType.Topic, Topic, Read);
        await _kafka.SendAsync(new Handlers.AlterShareGroupOffsetsHandler(_kafka.Core), new AlterShareGroupOffsetsRequest
        {
            GroupId = Group,
            Topics = [new() { TopicName = Topic, Partitions = [new() { PartitionIndex = 0, StartOffset = 0 }] }],
        }, 0);
        var handler = new Handlers.DeleteShareGroupOffsetsHandler(_kafka.Core);
        var delete = new DeleteShareGroupOffsetsRequest { GroupId = Group, Topics = [new() { TopicName = Topic }] };

        Assert.Equal((short)ErrorCode.GroupAuthorizationFailed, (await _kafka.SendAsync(handler, delete, 0)).ErrorCode);

        Grant(AclResourceType.Group, Group, AclOperation.Delete);
        Grant(AclResourceType.Topic, Topic, Read, AclPermissionType.Deny);
        var refused = await _kafka.SendAsync(handler, delete, 0);
        Assert.Equal(0, refused.ErrorCode);
        Assert.Equal((short)ErrorCode.TopicAuthorizationFailed, refused.Responses.Single().ErrorCode);
        Assert.Single(_kafka.Core.ShareGroups.StartOffsets(Group));

        Revoke(AclResourceType.Topic, Topic, Read, AclPermissionType.Deny);
        Assert.Equal(0, (await _kafka.SendAsync(handler, delete, 0)).Responses.Single().ErrorCode);
        Assert.Empty(_kafka.Core.ShareGroups.StartOffsets(Group));
    }
}
