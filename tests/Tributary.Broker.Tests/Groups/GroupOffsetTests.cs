using Tributary.Broker.Config;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.Groups;

// Broker tier: committed offsets (OffsetCommit, OffsetFetch, OffsetDelete), their persistence in __consumer_offsets
// and expiry, and the admin APIs (ListGroups, DescribeGroups, DeleteGroups, FindCoordinator).
public sealed class GroupOffsetTests : IDisposable
{
    private const string Group = "reports";
    private readonly GroupTestBroker _kafka = new();

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public async Task Committed_offsets_come_back_with_their_metadata_and_uncommitted_ones_as_minus_one()
    {
        Assert.Equal(ErrorCode.None, await _kafka.CommitAsync(Group, 1, 42, "checkpoint-7"));

        var fetched = await _kafka.FetchAsync(Group, 1);
        Assert.Equal(42, fetched.CommittedOffset);
        Assert.Equal("checkpoint-7", fetched.Metadata);
        Assert.Equal(-1, (await _kafka.FetchAsync(Group, 2)).CommittedOffset);
        Assert.Equal(-1, (await _kafka.FetchAsync("never-committed", 1)).CommittedOffset);

        // The single-group form (v1-7) sees the same, and null topics mean "everything committed" (v2+).
        var v7 = await GroupTestBroker.CallAsync(_kafka.OffsetFetch, new OffsetFetchRequest { GroupId = Group, Topics = null }, 7);
        var partition = v7.Topics.Single().Partitions.Single();
        Assert.Equal((1, 42L, "checkpoint-7"), (partition.PartitionIndex, partition.CommittedOffset, partition.Metadata));
    }

    [Fact]
    public async Task A_null_commit_metadata_is_stored_and_returned_as_the_empty_string()
    {
        Assert.Equal(ErrorCode.None, await _kafka.CommitAsync(Group, 1, 42, metadata: null));

        Assert.Equal("", (await _kafka.FetchAsync(Group, 1)).Metadata);
        Assert.Equal("", _kafka.Broker.Groups.FetchOffsets(Group)[(GroupTestBroker.Topic, 1)].Metadata);
    }

    [Fact]
    public async Task DescribeGroups_reports_every_group_operation_when_asked()
    {
        Assert.Equal(ErrorCode.None, await _kafka.CommitAsync(Group, 1, 42));

        var asked = await GroupTestBroker.CallAsync(_kafka.DescribeGroups, new DescribeGroupsRequest { Groups = [Group], IncludeAuthorizedOperations = true }, 5);
        var notAsked = await GroupTestBroker.CallAsync(_kafka.DescribeGroups, new DescribeGroupsRequest { Groups = [Group] }, 5);

        // Kafka's AclOperation codes as bits: READ 3, DELETE 6, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11.
        Assert.Equal(3400, asked.Groups.Single().AuthorizedOperations);
        Assert.Equal(int.MinValue, notAsked.Groups.Single().AuthorizedOperations);
    }

    [Fact]
    public async Task Committing_to_a_partition_that_does_not_exist_fails_for_that_partition_only()
    {
        var response = await GroupTestBroker.CallAsync(_kafka.OffsetCommit, new OffsetCommitRequest
        {
            GroupId = Group,
            Topics =
            [
                new() { Name = GroupTestBroker.Topic, Partitions = [new() { PartitionIndex = 0, CommittedOffset = 5 }, new() { PartitionIndex = 3, CommittedOffset = 5 }] },
                new() { Name = "missing", Partitions = [new() { PartitionIndex = 0, CommittedOffset = 5 }] },
            ],
        }, 2);

        var errors = response.Topics.SelectMany(t => t.Partitions.Select(p => (ErrorCode)p.ErrorCode));
        Assert.Equal([ErrorCode.None, ErrorCode.UnknownTopicOrPartition, ErrorCode.UnknownTopicOrPartition], errors);
        Assert.Equal(5, (await _kafka.FetchAsync(Group, 0)).CommittedOffset);
    }

    [Fact]
    public async Task Member_commits_need_the_current_generation_and_anonymous_commits_need_an_empty_group()
    {
        var joined = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group), 3);
        var member = joined.MemberId;
        Assert.Equal(ErrorCode.RebalanceInProgress, await _kafka.CommitAsync(Group, 0, 1, generation: 1, memberId: member));
        await _kafka.SyncAsync(Group, member, 1, (member, [0]));

        Assert.Equal(ErrorCode.None, await _kafka.CommitAsync(Group, 0, 10, generation: 1, memberId: member));
        Assert.Equal(ErrorCode.IllegalGeneration, await _kafka.CommitAsync(Group, 0, 11, generation: 0, memberId: member));
        Assert.Equal(ErrorCode.UnknownMemberId, await _kafka.CommitAsync(Group, 0, 12, generation: 1, memberId: "stranger"));
        Assert.Equal(ErrorCode.UnknownMemberId, await _kafka.CommitAsync(Group, 0, 13));
        Assert.Equal(10, (await _kafka.FetchAsync(Group, 0)).CommittedOffset);

        await GroupTestBroker.CallAsync(_kafka.Leave, new LeaveGroupRequest { GroupId = Group, MemberId = member }, 1);
        Assert.Equal(ErrorCode.None, await _kafka.CommitAsync(Group, 0, 14));
        Assert.Equal(14, (await _kafka.FetchAsync(Group, 0)).CommittedOffset);
    }

    [Fact]
    public async Task A_member_commit_to_a_group_that_does_not_exist_is_GROUP_ID_NOT_FOUND_from_v9_and_ILLEGAL_GENERATION_before()
    {
        // Kafka's OffsetMetadataManager: the commit names a generation, so it comes from a member of a group this
        // coordinator does not know; v9 introduced GROUP_ID_NOT_FOUND, older versions keep ILLEGAL_GENERATION.
        Assert.Equal(ErrorCode.GroupIdNotFound, await _kafka.CommitAsync("no-such-group", 0, 1, generation: 3, memberId: "m-1"));
        Assert.Equal(ErrorCode.GroupIdNotFound, await _kafka.CommitAsync("no-such-group", 0, 1, generation: 0, memberId: "m-1", version: 9));
        Assert.Equal(ErrorCode.IllegalGeneration, await _kafka.CommitAsync("no-such-group", 0, 1, generation: 3, memberId: "m-1", version: 8));
        Assert.Equal(ErrorCode.IllegalGeneration, await _kafka.CommitAsync("no-such-group", 0, 1, generation: 3, memberId: "m-1", version: 2));
        Assert.Equal(-1, (await _kafka.FetchAsync("no-such-group", 0)).CommittedOffset);

        // Generation -1 (the admin client, a consumer assigning itself) creates a simple group at every version.
        Assert.Equal(ErrorCode.None, await _kafka.CommitAsync("simple-9", 0, 5));
        Assert.Equal(ErrorCode.None, await _kafka.CommitAsync("simple-1", 0, 6, version: 1));
        Assert.Equal((5L, 6L), ((await _kafka.FetchAsync("simple-9", 0)).CommittedOffset, (await _kafka.FetchAsync("simple-1", 0)).CommittedOffset));
    }

    [Fact]
    public async Task A_commit_with_generation_minus_one_is_accepted_by_an_empty_group_whatever_member_it_names()
    {
        // Kafka's rule: generation -1 comes from the admin client or a consumer assigning partitions itself; an Empty
        // (or not yet existing) group takes it even when it names a member or an instance.
        Assert.Equal(ErrorCode.None, await _kafka.CommitAsync(Group, 0, 3, memberId: "rdkafka-1234"));
        Assert.Equal(ErrorCode.None, await _kafka.CommitAsync(Group, 1, 4, memberId: "rdkafka-1234", instanceId: "pod-a"));
        Assert.Equal((3L, 4L), ((await _kafka.FetchAsync(Group, 0)).CommittedOffset, (await _kafka.FetchAsync(Group, 1)).CommittedOffset));

        // Once the group has members, generation -1 is a stale generation for a member and unknown for anyone else.
        var joined = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group), 3);
        await _kafka.SyncAsync(Group, joined.MemberId, 1, (joined.MemberId, [0]));
        Assert.Equal(ErrorCode.IllegalGeneration, await _kafka.CommitAsync(Group, 0, 5, memberId: joined.MemberId));
        Assert.Equal(ErrorCode.UnknownMemberId, await _kafka.CommitAsync(Group, 0, 6, memberId: "rdkafka-1234"));
        Assert.Equal(3, (await _kafka.FetchAsync(Group, 0)).CommittedOffset);
    }

    [Fact]
    public async Task A_first_commit_on_a_full_disk_fails_and_the_next_one_works_once_space_returns()
    {
        var directory = Directory.CreateTempSubdirectory("tributary-groups-").FullName;
        var device = new FaultyDevice(new Storage.Devices.MemoryLogDevice());
        try
        {
            var time = new ManualTimeProvider();
            using (var before = new GroupTestBroker(time: time, directory: directory, device: device))
            {
                // Creating __consumer_offsets needs a metadata write, which the full disk refuses.
                device.Refuses = path => path.EndsWith(".tmp", StringComparison.Ordinal);
                Assert.Equal(ErrorCode.CoordinatorNotAvailable, await before.CommitAsync("simple", 2, 100));

                device.Refuses = _ => false;
                Assert.Equal(ErrorCode.None, await before.CommitAsync("simple", 2, 123));
                Assert.Equal(123, (await before.FetchAsync("simple", 2)).CommittedOffset);
            }

            using var after = new GroupTestBroker(time: time, directory: directory, device: device);
            Assert.Equal(123, (await after.FetchAsync("simple", 2)).CommittedOffset);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Offsets_and_group_membership_survive_a_broker_restart_from_consumer_offsets()
    {
        var directory = Directory.CreateTempSubdirectory("tributary-groups-").FullName;
        try
        {
            var time = new ManualTimeProvider();
            string member;
            using (var before = new GroupTestBroker(time: time, directory: directory))
            {
                Assert.Equal(ErrorCode.None, await before.CommitAsync("simple", 2, 100, "first"));
                Assert.Equal(ErrorCode.None, await before.CommitAsync("simple", 2, 123, "second"));
                var joined = await GroupTestBroker.CallAsync(before.Join, GroupTestBroker.JoinRequest(Group), 3);
                member = joined.MemberId;
                await before.SyncAsync(Group, member, 1, (member, [4, 2]));
                Assert.Equal(ErrorCode.None, await before.CommitAsync(Group, 0, 7, generation: 1, memberId: member));
                Assert.NotNull(before.Broker.Metadata.Find("__consumer_offsets"));
            }

            using var after = new GroupTestBroker(time: time, directory: directory);
            var simple = await after.FetchAsync("simple", 2);
            Assert.Equal((123L, "second"), (simple.CommittedOffset, simple.Metadata));
            Assert.Equal(7, (await after.FetchAsync(Group, 0)).CommittedOffset);

            // The member is back in its generation with its assignment, and may carry on heartbeating.
            var described = await after.DescribeAsync(Group);
            Assert.Equal("Stable", described.GroupState);
            Assert.Equal([4, 2], described.Members.Single(m => m.MemberId == member).MemberAssignment);
            Assert.Equal(ErrorCode.None, await after.HeartbeatAsync(Group, member, 1));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Log_retention_never_deletes_commits_from_consumer_offsets()
    {
        var directory = Directory.CreateTempSubdirectory("tributary-groups-").FullName;
        try
        {
            var time = new ManualTimeProvider();
            var config = new BrokerConfig { OffsetsRetentionMs = long.MaxValue / 2 };
            using (var before = new GroupTestBroker(config, time, directory))
            {
                await before.CommitAsync(Group, 0, 11);

                // Eight days on, a second commit rolls a new segment; retention then runs over the old one.
                time.Advance(TimeSpan.FromDays(8));
                await before.CommitAsync(Group, 1, 12);
                time.Advance(TimeSpan.FromDays(8));
                await before.CommitAsync(Group, 2, 13);
                before.Broker.Logs.RunRetention();
            }

            using var after = new GroupTestBroker(config, time, directory);
            Assert.Equal(11, (await after.FetchAsync(Group, 0)).CommittedOffset);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Offsets_of_an_empty_group_expire_after_the_retention_and_the_group_goes_away()
    {
        using var kafka = new GroupTestBroker(new BrokerConfig { OffsetsRetentionMs = 60_000 });
        await kafka.CommitAsync(Group, 0, 5);
        kafka.Time.Advance(TimeSpan.FromSeconds(30));
        await kafka.CommitAsync(Group, 1, 6);

        kafka.Time.Advance(TimeSpan.FromSeconds(40));
        Assert.Equal(1, kafka.Broker.Groups.ExpireOffsets());
        Assert.Equal(-1, (await kafka.FetchAsync(Group, 0)).CommittedOffset);
        Assert.Equal(6, (await kafka.FetchAsync(Group, 1)).CommittedOffset);

        // The periodic check (every 10 minutes) removes the rest, and the group with it.
        kafka.Time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(-1, (await kafka.FetchAsync(Group, 1)).CommittedOffset);
        Assert.Empty((await GroupTestBroker.CallAsync(kafka.ListGroups, new ListGroupsRequest(), 4)).Groups);
    }

    [Fact]
    public async Task ListGroups_filters_by_state_case_insensitively()
    {
        var joined = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest("active"), 3);
        await _kafka.SyncAsync("active", joined.MemberId, 1, (joined.MemberId, []));
        await _kafka.CommitAsync("idle", 0, 1);

        async Task<string[]> ListAsync(params string[] states) =>
            [.. (await GroupTestBroker.CallAsync(_kafka.ListGroups, new ListGroupsRequest { StatesFilter = [.. states] }, 4)).Groups.Select(g => $"{g.GroupId}:{g.GroupState}")];

        Assert.Equal(["active:Stable", "idle:Empty"], await ListAsync());
        Assert.Equal(["active:Stable"], await ListAsync("Stable"));
        Assert.Equal(["idle:Empty"], await ListAsync("empty"));
        Assert.Empty(await ListAsync("Dead"));
    }

    [Fact]
    public async Task DeleteGroups_refuses_a_group_with_members_and_deletes_an_empty_one_with_its_offsets()
    {
        var joined = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest("busy"), 3);
        await _kafka.SyncAsync("busy", joined.MemberId, 1, (joined.MemberId, []));
        await _kafka.CommitAsync("done", 0, 9);

        var response = await GroupTestBroker.CallAsync(_kafka.DeleteGroups, new DeleteGroupsRequest { GroupsNames = ["busy", "done", "unknown"] }, 2);

        Assert.Equal(
            [("busy", ErrorCode.NonEmptyGroup), ("done", ErrorCode.None), ("unknown", ErrorCode.GroupIdNotFound)],
            response.Results.Select(r => (r.GroupId, (ErrorCode)r.ErrorCode)));
        Assert.Equal(-1, (await _kafka.FetchAsync("done", 0)).CommittedOffset);
        Assert.Equal("Dead", (await _kafka.DescribeAsync("done")).GroupState);
        Assert.Equal("Stable", (await _kafka.DescribeAsync("busy")).GroupState);
    }

    [Fact]
    public async Task OffsetDelete_keeps_offsets_of_topics_the_members_consume_and_deletes_the_others()
    {
        _kafka.Broker.CreateTopic("old-topic", 1, new Dictionary<string, string>());
        var joined = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group, metadata: GroupTestBroker.Subscription(GroupTestBroker.Topic)), 3);
        await _kafka.SyncAsync(Group, joined.MemberId, 1, (joined.MemberId, []));
        var commit = await GroupTestBroker.CallAsync(_kafka.OffsetCommit, new OffsetCommitRequest
        {
            GroupId = Group,
            GenerationIdOrMemberEpoch = 1,
            MemberId = joined.MemberId,
            Topics = [new() { Name = GroupTestBroker.Topic, Partitions = [new() { CommittedOffset = 3 }] }, new() { Name = "old-topic", Partitions = [new() { CommittedOffset = 4 }] }],
        }, 8);
        Assert.All(commit.Topics.SelectMany(t => t.Partitions), p => Assert.Equal(0, p.ErrorCode));

        var response = await GroupTestBroker.CallAsync(_kafka.OffsetDelete, new OffsetDeleteRequest
        {
            GroupId = Group,
            Topics = [new() { Name = GroupTestBroker.Topic, Partitions = [new() { PartitionIndex = 0 }] }, new() { Name = "old-topic", Partitions = [new() { PartitionIndex = 0 }] }],
        }, 0);

        Assert.Equal(0, response.ErrorCode);
        Assert.Equal([(short)ErrorCode.GroupSubscribedToTopic, (short)ErrorCode.None], response.Topics.Select(t => t.Partitions.Single().ErrorCode));
        var all = await GroupTestBroker.CallAsync(_kafka.OffsetFetch, new OffsetFetchRequest { GroupId = Group, Topics = null }, 5);
        Assert.Equal([GroupTestBroker.Topic], all.Topics.Select(t => t.Name));
    }

    [Fact]
    public async Task FindCoordinator_names_this_node_for_groups_and_transactions_singly_and_batched()
    {
        _kafka.Broker.AdvertisedHost = "broker.local";
        _kafka.Broker.AdvertisedPort = 19092;

        var single = await GroupTestBroker.CallAsync(_kafka.FindCoordinator, new FindCoordinatorRequest { Key = Group, KeyType = 1 }, 3);
        Assert.Equal((0, "broker.local", 19092, (short)0), (single.NodeId, single.Host, single.Port, single.ErrorCode));

        var batched = await GroupTestBroker.CallAsync(_kafka.FindCoordinator, new FindCoordinatorRequest { CoordinatorKeys = ["a", "b"] }, 4);
        Assert.Equal(["a", "b"], batched.Coordinators.Select(c => c.Key));
        Assert.All(batched.Coordinators, c => Assert.Equal((0, "broker.local", 19092, (short)0), (c.NodeId, c.Host, c.Port, c.ErrorCode)));
    }
}
