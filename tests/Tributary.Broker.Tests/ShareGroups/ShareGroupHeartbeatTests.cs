using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.ShareGroups;

// Broker tier: share-group membership (ShareGroupHeartbeat, ShareGroupDescribe, ListGroups, DeleteGroups) through the
// handlers with a manual clock: the simple assignor puts several members on one partition, epochs fence stale members,
// sessions expire, and new partitions reach members at their next heartbeat.
public sealed class ShareGroupHeartbeatTests : IDisposable
{
    private readonly ShareTestBroker _kafka = new();

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public async Task Five_members_on_two_partitions_all_get_a_partition_and_every_partition_is_read()
    {
        var responses = new List<ShareGroupHeartbeatResponse>();
        for (var i = 1; i <= 5; i++)
        {
            responses.Add(await _kafka.HeartbeatAsync($"m{i}", 0, ShareTestBroker.Topic));
        }

        // Each member's next heartbeat hands it the assignment computed when the last one joined.
        var final = new List<ShareGroupHeartbeatResponse>();
        for (var i = 1; i <= 5; i++)
        {
            final.Add(await _kafka.HeartbeatAsync($"m{i}", responses[i - 1].MemberEpoch));
        }

        Assert.All(final, r => Assert.Equal(5, r.MemberEpoch));
        Assert.All(final.Take(4), r => Assert.NotNull(r.Assignment));
        Assert.Equal(5000, final[0].HeartbeatIntervalMs);

        var described = (await _kafka.SendAsync(_kafka.Describe, new ShareGroupDescribeRequest { GroupIds = [ShareTestBroker.Group] }, 1)).Groups.Single();
        Assert.Equal("Stable", described.GroupState);
        Assert.Equal("simple", described.AssignorName);
        Assert.Equal(5, described.Members.Count);
        Assert.All(described.Members, m => Assert.Equal(ShareTestBroker.Topic, Assert.Single(m.Assignment.TopicPartitions).TopicName));
        var perPartition = described.Members.GroupBy(m => Assert.Single(m.Assignment.TopicPartitions[0].Partitions)).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(3, perPartition[0]);
        Assert.Equal(2, perPartition[1]);
    }

    [Fact]
    public async Task A_stale_epoch_is_fenced_and_an_unknown_member_must_join()
    {
        var joined = await _kafka.HeartbeatAsync("m1", 0, ShareTestBroker.Topic);
        Assert.Equal(1, joined.MemberEpoch);
        Assert.Equal([0, 1], Assert.Single(joined.Assignment!.TopicPartitions).Partitions);

        Assert.Equal((short)ErrorCode.FencedMemberEpoch, (await _kafka.HeartbeatAsync("m1", 7)).ErrorCode);
        Assert.Equal((short)ErrorCode.UnknownMemberId, (await _kafka.HeartbeatAsync("ghost", 1)).ErrorCode);
        Assert.Equal((short)ErrorCode.InvalidRequest, (await _kafka.HeartbeatAsync("", 0, ShareTestBroker.Topic)).ErrorCode);
        Assert.Equal((short)ErrorCode.InvalidRequest, (await _kafka.HeartbeatAsync("m2", 0)).ErrorCode);
        Assert.Equal((short)ErrorCode.InvalidRequest, (await _kafka.HeartbeatAsync("m1", -2)).ErrorCode);

        // The member is unharmed by the bad requests.
        var again = await _kafka.HeartbeatAsync("m1", 1);
        Assert.Equal(0, again.ErrorCode);
        Assert.Null(again.Assignment);
    }

    [Fact]
    public async Task A_member_that_stops_heartbeating_expires_and_its_partitions_go_to_the_others()
    {
        await _kafka.HeartbeatAsync("m1", 0, ShareTestBroker.Topic);
        var second = await _kafka.HeartbeatAsync("m2", 0, ShareTestBroker.Topic);
        Assert.Single(second.Assignment!.TopicPartitions[0].Partitions);

        // m2 keeps its session; m1 stays silent past share.session.timeout.ms (45 s).
        for (var i = 0; i < 5; i++)
        {
            _kafka.Time.Advance(TimeSpan.FromSeconds(10));
            second = await _kafka.HeartbeatAsync("m2", second.MemberEpoch);
            Assert.Equal(0, second.ErrorCode);
        }

        var described = (await _kafka.SendAsync(_kafka.Describe, new ShareGroupDescribeRequest { GroupIds = [ShareTestBroker.Group] }, 1)).Groups.Single();
        var member = Assert.Single(described.Members);
        Assert.Equal("m2", member.MemberId);
        Assert.Equal([0, 1], member.Assignment.TopicPartitions[0].Partitions.Order());
        Assert.Equal((short)ErrorCode.UnknownMemberId, (await _kafka.HeartbeatAsync("m1", 2)).ErrorCode);
    }

    [Fact]
    public async Task New_partitions_and_newly_created_subscribed_topics_are_assigned_at_the_next_heartbeat()
    {
        var joined = await _kafka.HeartbeatAsync("m1", 0, ShareTestBroker.Topic, "later");
        Assert.Single(joined.Assignment!.TopicPartitions);

        _kafka.Core.AddPartitions(_kafka.Core.Metadata.Find(ShareTestBroker.Topic)!, 3);
        _kafka.Core.CreateTopic("later", 1, new Dictionary<string, string>());
        var next = await _kafka.HeartbeatAsync("m1", joined.MemberEpoch);
        Assert.Equal(joined.MemberEpoch + 1, next.MemberEpoch);
        Assert.Equal(4, next.Assignment!.TopicPartitions.Sum(t => t.Partitions.Count));
    }

    [Fact]
    public async Task Leaving_empties_the_group_which_is_then_listed_as_share_and_can_be_deleted()
    {
        await _kafka.HeartbeatAsync("m1", 0, ShareTestBroker.Topic);
        var deleteGroups = new Handlers.DeleteGroupsHandler(_kafka.Core);
        var busy = await _kafka.SendAsync(deleteGroups, new DeleteGroupsRequest { GroupsNames = [ShareTestBroker.Group] }, 2);
        Assert.Equal((short)ErrorCode.NonEmptyGroup, busy.Results.Single().ErrorCode);

        var left = await _kafka.HeartbeatAsync("m1", -1);
        Assert.Equal(-1, left.MemberEpoch);

        var listed = await _kafka.SendAsync(new Handlers.ListGroupsHandler(_kafka.Core), new ListGroupsRequest { TypesFilter = ["share"] }, 5);
        var group = Assert.Single(listed.Groups);
        Assert.Equal(("workers", "share", "Empty", "share"), (group.GroupId, group.GroupType, group.GroupState, group.ProtocolType));

        var deleted = await _kafka.SendAsync(deleteGroups, new DeleteGroupsRequest { GroupsNames = [ShareTestBroker.Group] }, 2);
        Assert.Equal(0, deleted.Results.Single().ErrorCode);
        var described = (await _kafka.SendAsync(_kafka.Describe, new ShareGroupDescribeRequest { GroupIds = [ShareTestBroker.Group] }, 1)).Groups.Single();
        Assert.Equal((short)ErrorCode.GroupIdNotFound, described.ErrorCode);
    }
}
