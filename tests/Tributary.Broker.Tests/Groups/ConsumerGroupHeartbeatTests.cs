using System.Diagnostics.CodeAnalysis;
using Tributary.Broker.Config;
using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.Groups;

// Broker tier: KIP-848 consumer groups (ConsumerGroupHeartbeat, ConsumerGroupDescribe, and OffsetCommit/ListGroups for
// them) driven through the handlers with a manual clock. Each simulated consumer behaves as Kafka's: it adopts the
// assignment it is sent (revoking at once), then reports what it owns in its next heartbeat. After every heartbeat the
// tests check that no partition is owned by two consumers at once, which is what "revocation before reassignment" means
// to a user.
public sealed partial class ConsumerGroupHeartbeatTests : IDisposable
{
    private const string Group = "payments-app";
    private const string Wide = "wide";
    private GroupTestBroker _kafka;
    private ConsumerGroupHeartbeatHandler _heartbeat;
    private ConsumerGroupDescribeHandler _describe;

    public ConsumerGroupHeartbeatTests() => Use(() => new GroupTestBroker());

    public void Dispose()
    {
        _kafka.Dispose();
        if (_directory is not null)
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    /// <summary>Stops the current broker, if any, then starts the next one (a data directory takes one broker at a time).</summary>
    [MemberNotNull(nameof(_kafka), nameof(_heartbeat), nameof(_describe))]
    private void Use(Func<GroupTestBroker> start)
    {
        _kafka?.Dispose();
        var kafka = start();
        _kafka = kafka;
        _heartbeat = new ConsumerGroupHeartbeatHandler(kafka.Broker);
        _describe = new ConsumerGroupDescribeHandler(kafka.Broker);
        kafka.Broker.CreateTopic(Wide, 6, new Dictionary<string, string>());
    }

    [Fact]
    public async Task Two_members_converge_to_a_disjoint_complete_balanced_assignment()
    {
        var consumers = new List<Consumer> { await JoinAsync("c1", Wide), await JoinAsync("c2", Wide) };
        await ConvergeAsync(consumers);
        AssertBalanced(consumers, Wide, 6);
        Assert.All(consumers, c => Assert.Equal(3, c.Owned.Count));
    }

    [Fact]
    public async Task Three_members_converge_and_partitions_move_only_after_their_owner_revoked_them()
    {
        var first = await JoinAsync("c1", Wide);
        Assert.Equal(6, first.Owned.Count);
        Assert.Equal(1, first.Epoch);

        var second = await JoinAsync("c2", Wide);

        // c1 still owns everything, so c2 gets nothing until c1 has heartbeated, been told to revoke, and confirmed; c2
        // has nothing to revoke, so it is at the new epoch at once (its partitions are added later without a new epoch).
        Assert.Empty(second.Owned);
        Assert.Equal(2, second.Epoch);
        var consumers = new List<Consumer> { first, second, await JoinAsync("c3", Wide) };
        await ConvergeAsync(consumers);
        AssertBalanced(consumers, Wide, 6);
        Assert.All(consumers, c => Assert.Equal(2, c.Owned.Count));
        var described = await DescribeAsync();
        Assert.Equal("Stable", described.GroupState);
        Assert.Equal(3, described.GroupEpoch);
        Assert.All(described.Members, m => Assert.Equal(3, m.MemberEpoch));
    }

    [Fact]
    public async Task A_revoking_member_keeps_its_epoch_until_it_confirms_and_the_newcomer_waits()
    {
        var first = await JoinAsync("c1", Wide);
        var second = await JoinAsync("c2", Wide);

        // c1's next heartbeat takes three partitions away; its epoch stays 1 until it reports it no longer owns them.
        var revoking = await BeatAsync(first);
        Assert.Equal(1, revoking.MemberEpoch);
        Assert.Equal(3, first.Owned.Count);

        // c2 still gets nothing: the three partitions are not released yet (c1 has not reported).
        await BeatAsync(second);
        Assert.Empty(second.Owned);
        Assert.Equal("Reconciling", (await DescribeAsync()).GroupState);

        var confirmed = await BeatAsync(first);
        Assert.Equal(2, confirmed.MemberEpoch);
        await BeatAsync(second);
        Assert.Equal(3, second.Owned.Count);
        Assert.Empty(first.Owned.Intersect(second.Owned));
    }

    [Fact]
    public async Task A_member_that_does_not_revoke_within_its_rebalance_timeout_is_removed()
    {
        var first = await JoinAsync("c1", Wide);
        var second = await JoinAsync("c2", Wide);
        await BeatAsync(first);
        Assert.Equal(3, first.Owned.Count);

        // c1 keeps heartbeating but never reports that it gave up the three partitions (a stuck rebalance listener).
        for (var i = 0; i < 7; i++)
        {
            _kafka.Time.Advance(TimeSpan.FromSeconds(5));
            await CallAsync(new ConsumerGroupHeartbeatRequest { GroupId = Group, MemberId = first.MemberId, MemberEpoch = first.Epoch });
            await BeatAsync(second);
        }

        Assert.Equal([second.MemberId], (await DescribeAsync()).Members.Select(m => m.MemberId));
        Assert.Equal(6, second.Owned.Count);
    }

    [Fact]
    public async Task A_leaving_members_partitions_move_to_the_others()
    {
        var consumers = new List<Consumer> { await JoinAsync("c1", Wide), await JoinAsync("c2", Wide), await JoinAsync("c3", Wide) };
        await ConvergeAsync(consumers);
        var leaving = consumers[2];
        var left = await CallAsync(new ConsumerGroupHeartbeatRequest { GroupId = Group, MemberId = leaving.MemberId, MemberEpoch = -1 });
        Assert.Equal((short)ErrorCode.None, left.ErrorCode);
        Assert.Equal(-1, left.MemberEpoch);
        consumers.Remove(leaving);

        await ConvergeAsync(consumers);
        AssertBalanced(consumers, Wide, 6);
        Assert.All(consumers, c => Assert.Equal(3, c.Owned.Count));

        // The member is gone: its next heartbeat is refused.
        Assert.Equal((short)ErrorCode.UnknownMemberId, (await BeatAsync(leaving)).ErrorCode);
    }

    [Fact]
    public async Task A_member_whose_session_expires_is_removed_and_its_partitions_move()
    {
        var consumers = new List<Consumer> { await JoinAsync("c1", Wide), await JoinAsync("c2", Wide) };
        await ConvergeAsync(consumers);

        // c1 keeps heartbeating every 5 s; c2 stops. After the 45 s default session timeout c2 is gone.
        for (var i = 0; i < 10; i++)
        {
            _kafka.Time.Advance(TimeSpan.FromSeconds(5));
            await BeatAsync(consumers[0]);
        }

        var described = await DescribeAsync();
        Assert.Equal([consumers[0].MemberId], described.Members.Select(m => m.MemberId));
        Assert.Equal(6, consumers[0].Owned.Count);
        Assert.Equal((short)ErrorCode.UnknownMemberId, (await BeatAsync(consumers[1])).ErrorCode);
    }

    [Fact]
    public async Task Partitions_added_to_a_subscribed_topic_reach_the_members()
    {
        var consumers = new List<Consumer> { await JoinAsync("c1", GroupTestBroker.Topic), await JoinAsync("c2", GroupTestBroker.Topic) };
        await ConvergeAsync(consumers);
        var epochBefore = (await DescribeAsync()).GroupEpoch;

        var topic = _kafka.Broker.Metadata.Find(GroupTestBroker.Topic)!;
        _kafka.Broker.AddPartitions(topic, 7);
        await ConvergeAsync(consumers);

        AssertBalanced(consumers, GroupTestBroker.Topic, 7);
        Assert.Equal(epochBefore + 1, (await DescribeAsync()).GroupEpoch);
    }

    [Fact]
    public async Task Range_gives_contiguous_ranges_per_topic_and_uniform_balances_across_topics()
    {
        // Two topics of three partitions, two members: range assigns per topic (0-1 and 2 of each), so the first member
        // gets four partitions; uniform balances the six partitions three and three.
        var topics = new[] { GroupTestBroker.Topic, "refunds" };
        _kafka.Broker.CreateTopic("refunds", 3, new Dictionary<string, string>());

        var range = new List<Consumer> { await JoinAsync("a", topics, group: "ranged", assignor: "range"), await JoinAsync("b", topics, group: "ranged", assignor: "range") };
        await ConvergeAsync(range, "ranged");
        var byId = range.OrderBy(c => c.MemberId, StringComparer.Ordinal).ToList();
        Assert.Equal(4, byId[0].Owned.Count);
        Assert.Equal(2, byId[1].Owned.Count);
        Assert.All(byId[1].Owned, tp => Assert.Equal(2, tp.Partition));
        Assert.Equal("range", (await DescribeAsync("ranged")).AssignorName);

        var uniform = new List<Consumer> { await JoinAsync("a", topics, group: "uniformed"), await JoinAsync("b", topics, group: "uniformed") };
        await ConvergeAsync(uniform, "uniformed");
        Assert.All(uniform, c => Assert.Equal(3, c.Owned.Count));
        Assert.Equal("uniform", (await DescribeAsync("uniformed")).AssignorName);
    }

    [Fact]
    public async Task Describe_shows_state_epochs_assignor_and_each_members_assignment_and_target()
    {
        var first = await JoinAsync("c1", Wide);
        var second = await JoinAsync("c2", Wide);

        // Before c1 revokes, c2's target holds three partitions and its assignment none.
        var reconciling = await DescribeAsync();
        Assert.Equal((short)ErrorCode.None, reconciling.ErrorCode);
        Assert.Equal("Reconciling", reconciling.GroupState);
        Assert.Equal(2, reconciling.GroupEpoch);
        Assert.Equal(2, reconciling.AssignmentEpoch);
        Assert.Equal("uniform", reconciling.AssignorName);
        var m2 = reconciling.Members.Single(m => m.MemberId == second.MemberId);
        Assert.Equal("c2", m2.ClientId);
        Assert.Equal(GroupTestBroker.ClientHost, m2.ClientHost);
        Assert.Equal([Wide], m2.SubscribedTopicNames);
        Assert.Empty(m2.Assignment.TopicPartitions);
        Assert.Equal(3, m2.TargetAssignment.TopicPartitions.Single().Partitions.Count);
        Assert.Equal(Wide, m2.TargetAssignment.TopicPartitions.Single().TopicName);
        Assert.Equal(6, reconciling.Members.Single(m => m.MemberId == first.MemberId).Assignment.TopicPartitions.Single().Partitions.Count);

        await ConvergeAsync([first, second]);
        var stable = await DescribeAsync();
        Assert.Equal("Stable", stable.GroupState);
        Assert.All(stable.Members, m => Assert.Equal(m.TargetAssignment.TopicPartitions.Single().Partitions, m.Assignment.TopicPartitions.Single().Partitions));

        var unknown = await CallDescribeAsync("nobody");
        Assert.Equal((short)ErrorCode.GroupIdNotFound, unknown.ErrorCode);
    }

    [Fact]
    public async Task Request_errors_are_the_ones_the_java_client_expects()
    {
        var member = await JoinAsync("c1", Wide);

        Assert.Equal((short)ErrorCode.InvalidRequest, (await CallAsync(JoinRequest("", "m"))).ErrorCode);
        Assert.Equal((short)ErrorCode.InvalidRequest, (await CallAsync(JoinRequest(Group, ""), version: 1)).ErrorCode);
        Assert.Equal((short)ErrorCode.InvalidRequest, (await CallAsync(new ConsumerGroupHeartbeatRequest { GroupId = Group, MemberId = "x", MemberEpoch = 0, SubscribedTopicNames = [Wide] })).ErrorCode);
        Assert.Equal((short)ErrorCode.InvalidRequest, (await CallAsync(new ConsumerGroupHeartbeatRequest { GroupId = Group, MemberId = member.MemberId, MemberEpoch = -2 })).ErrorCode);
        Assert.Equal((short)ErrorCode.UnsupportedAssignor, (await CallAsync(JoinRequest(Group, "", assignor: "cooperative-sticky"))).ErrorCode);

        Assert.Equal((short)ErrorCode.UnknownMemberId, (await CallAsync(new ConsumerGroupHeartbeatRequest { GroupId = Group, MemberId = "ghost", MemberEpoch = 1 })).ErrorCode);
        // A group the coordinator does not know (e.g. an in-memory broker restarted) makes the member rejoin.
        Assert.Equal((short)ErrorCode.UnknownMemberId, (await CallAsync(new ConsumerGroupHeartbeatRequest { GroupId = "no-such-group", MemberId = "ghost", MemberEpoch = 1 })).ErrorCode);

        var fenced = await CallAsync(new ConsumerGroupHeartbeatRequest { GroupId = Group, MemberId = member.MemberId, MemberEpoch = member.Epoch + 5 });
        Assert.Equal((short)ErrorCode.FencedMemberEpoch, fenced.ErrorCode);
    }

    [Fact]
    public async Task A_stale_epoch_is_fenced_once_the_member_has_moved_on()
    {
        var first = await JoinAsync("c1", Wide);
        await JoinAsync("c2", Wide);
        await BeatAsync(first);
        await BeatAsync(first);
        Assert.Equal(2, first.Epoch);

        // Epoch 1 with partitions outside the current assignment is not a lost response: it is a zombie.
        var stale = await CallAsync(new ConsumerGroupHeartbeatRequest
        {
            GroupId = Group,
            MemberId = first.MemberId,
            MemberEpoch = 1,
            TopicPartitions = [new ConsumerGroupHeartbeatRequest.TopicPartitionsData { TopicId = WideId, Partitions = [0, 1, 2, 3, 4, 5] }],
        });
        Assert.Equal((short)ErrorCode.FencedMemberEpoch, stale.ErrorCode);
    }

    [Fact]
    public async Task Group_max_size_and_a_classic_group_in_use_are_refused()
    {
        using var small = new GroupTestBroker(new BrokerConfig { GroupMaxSize = 1 });
        var handler = new ConsumerGroupHeartbeatHandler(small.Broker);
        Assert.Equal((short)ErrorCode.None, (await GroupTestBroker.CallAsync(handler, JoinRequest(Group, "", topic: GroupTestBroker.Topic), 0)).ErrorCode);
        Assert.Equal((short)ErrorCode.GroupMaxSizeReached, (await GroupTestBroker.CallAsync(handler, JoinRequest(Group, "", topic: GroupTestBroker.Topic), 0)).ErrorCode);

        // A classic group with members keeps its id: the consumer protocol gets GROUP_ID_NOT_FOUND ...
        var (_, join) = await _kafka.JoinNewMemberAsync("classic-app", "old");
        Assert.Equal((short)ErrorCode.None, (await join).ErrorCode);
        Assert.Equal((short)ErrorCode.GroupIdNotFound, (await CallAsync(JoinRequest("classic-app", ""))).ErrorCode);

        // ... and a consumer group with members refuses classic JoinGroup with INCONSISTENT_GROUP_PROTOCOL.
        await JoinAsync("c1", Wide);
        var classic = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group), 9);
        Assert.Equal((short)ErrorCode.InconsistentGroupProtocol, classic.ErrorCode);
    }

    [Fact]
    public async Task A_static_member_that_leaves_temporarily_keeps_its_partitions_and_its_instance_is_guarded()
    {
        var first = await JoinAsync("c1", Wide, instanceId: "host-1");
        var second = await JoinAsync("c2", Wide);
        await ConvergeAsync([first, second]);
        var epoch = (await DescribeAsync()).GroupEpoch;

        Assert.Equal((short)ErrorCode.UnreleasedInstanceId, (await CallAsync(JoinRequest(Group, "", instanceId: "host-1"))).ErrorCode);

        var left = await CallAsync(new ConsumerGroupHeartbeatRequest { GroupId = Group, MemberId = first.MemberId, MemberEpoch = -2, InstanceId = "host-1" });
        Assert.Equal(-2, left.MemberEpoch);
        var back = await CallAsync(JoinRequest(Group, "", instanceId: "host-1"));
        Assert.Equal((short)ErrorCode.None, back.ErrorCode);
        Assert.Equal(epoch, back.MemberEpoch);
        Assert.Equal(first.Owned.Order(), back.Assignment!.TopicPartitions.Single().Partitions.Select(p => (WideId, p)).Order());
        Assert.Equal(epoch, (await DescribeAsync()).GroupEpoch);
    }

    [Fact]
    public async Task Offsets_commit_with_the_current_member_epoch_and_a_stale_one_is_refused_and_list_groups_shows_type_consumer()
    {
        var member = await JoinAsync("c1", GroupTestBroker.Topic);
        Assert.Equal(ErrorCode.None, await _kafka.CommitAsync(Group, 0, 42, generation: member.Epoch, memberId: member.MemberId));
        Assert.Equal(42, (await _kafka.FetchAsync(Group, 0)).CommittedOffset);

        var second = await JoinAsync("c2", GroupTestBroker.Topic);
        await ConvergeAsync([member, second]);
        Assert.Equal(ErrorCode.StaleMemberEpoch, await _kafka.CommitAsync(Group, 0, 43, generation: 1, memberId: member.MemberId));

        // Kafka: "OffsetCommit version 9 or above must be used by members using the modern group protocol".
        Assert.Equal(ErrorCode.UnsupportedVersion, await _kafka.CommitAsync(Group, 0, 43, generation: member.Epoch, memberId: member.MemberId, version: 8));
        Assert.Equal(ErrorCode.UnknownMemberId, await _kafka.CommitAsync(Group, 0, 43, generation: member.Epoch, memberId: "ghost"));
        Assert.Equal(ErrorCode.UnknownMemberId, await _kafka.CommitAsync(Group, 0, 43));
        Assert.Equal(ErrorCode.None, await _kafka.CommitAsync(Group, 0, 44, generation: member.Epoch, memberId: member.MemberId));
        Assert.Equal(44, (await _kafka.FetchAsync(Group, 0)).CommittedOffset);

        var listed = await GroupTestBroker.CallAsync(_kafka.ListGroups, new ListGroupsRequest(), 5);
        var group = listed.Groups.Single();
        Assert.Equal((Group, "consumer", "consumer", "Stable"), (group.GroupId, group.GroupType, group.ProtocolType, group.GroupState));
        var classicOnly = await GroupTestBroker.CallAsync(_kafka.ListGroups, new ListGroupsRequest { TypesFilter = ["classic"] }, 5);
        Assert.Empty(classicOnly.Groups);
    }

    [Fact]
    public async Task Describe_groups_shows_a_consumer_protocol_group_as_dead_as_kafka_does()
    {
        var member = await JoinAsync("c1", GroupTestBroker.Topic);
        Assert.Equal(ErrorCode.None, await _kafka.CommitAsync(Group, 0, 42, generation: member.Epoch, memberId: member.MemberId));

        // Kafka's DescribeGroups knows only classic groups (GROUP_ID_NOT_FOUND from v6, "Dead" before): admin clients
        // describe consumer groups with ConsumerGroupDescribe and fall back to DescribeGroups on GROUP_ID_NOT_FOUND.
        var classic = await _kafka.DescribeAsync(Group);
        Assert.Equal(((short)ErrorCode.None, "Dead", "", ""), (classic.ErrorCode, classic.GroupState, classic.ProtocolType, classic.ProtocolData));
        Assert.Empty(classic.Members);
        Assert.Equal("Stable", (await DescribeAsync()).GroupState);
    }

    [Fact]
    public async Task Committed_offsets_of_a_consumer_group_survive_a_restart()
    {
        var directory = Directory.CreateTempSubdirectory("tributary-kip848-").FullName;
        try
        {
            using (var onDisk = new GroupTestBroker(directory: directory))
            {
                var handler = new ConsumerGroupHeartbeatHandler(onDisk.Broker);
                var joined = await GroupTestBroker.CallAsync(handler, JoinRequest(Group, "", topic: GroupTestBroker.Topic), 0);
                Assert.Equal(ErrorCode.None, await onDisk.CommitAsync(Group, 1, 7, generation: joined.MemberEpoch, memberId: joined.MemberId!));
            }

            using var restarted = new GroupTestBroker(directory: directory);
            Assert.Equal(7, (await restarted.FetchAsync(Group, 1)).CommittedOffset);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private Guid WideId => _kafka.Broker.Metadata.Find(Wide)!.Id;

    private static ConsumerGroupHeartbeatRequest JoinRequest(string group, string memberId, string topic = Wide, string? assignor = null, string? instanceId = null) => new()
    {
        GroupId = group,
        MemberId = memberId,
        MemberEpoch = 0,
        InstanceId = instanceId,
        RebalanceTimeoutMs = 30_000,
        SubscribedTopicNames = [topic],
        ServerAssignor = assignor,
        TopicPartitions = [],
    };

    private Task<ConsumerGroupHeartbeatResponse> CallAsync(ConsumerGroupHeartbeatRequest request, short version = 0, string clientId = "client") =>
        GroupTestBroker.CallAsync(_heartbeat, request, version, clientId);

    private Task<Consumer> JoinAsync(string clientId, string topic, string group = Group, string? assignor = null, string? instanceId = null) =>
        JoinAsync(clientId, [topic], group, assignor, instanceId);

    private async Task<Consumer> JoinAsync(string clientId, string[] topics, string group = Group, string? assignor = null, string? instanceId = null)
    {
        var request = JoinRequest(group, "", assignor: assignor, instanceId: instanceId);
        request.SubscribedTopicNames = [.. topics];
        var response = await CallAsync(request, 0, clientId);
        Assert.Equal((short)ErrorCode.None, response.ErrorCode);
        Assert.False(string.IsNullOrEmpty(response.MemberId));
        Assert.Equal(5000, response.HeartbeatIntervalMs);
        var consumer = new Consumer(response.MemberId!, group);
        consumer.Apply(response);
        return consumer;
    }

    /// <summary>One heartbeat as Kafka's consumer sends it: its owned partitions after it reconciled, null otherwise.</summary>
    private async Task<ConsumerGroupHeartbeatResponse> BeatAsync(Consumer consumer)
    {
        var response = await CallAsync(new ConsumerGroupHeartbeatRequest
        {
            GroupId = consumer.Group,
            MemberId = consumer.MemberId,
            MemberEpoch = consumer.Epoch,
            TopicPartitions = consumer.ReportNext
                ? [.. consumer.Owned.GroupBy(tp => tp.TopicId).Select(g => new ConsumerGroupHeartbeatRequest.TopicPartitionsData { TopicId = g.Key, Partitions = [.. g.Select(tp => tp.Partition)] })]
                : null,
        });
        if (response.ErrorCode == (short)ErrorCode.None)
        {
            consumer.Apply(response);
        }

        return response;
    }

    private async Task ConvergeAsync(List<Consumer> consumers, string group = Group)
    {
        for (var round = 0; round < 10; round++)
        {
            foreach (var consumer in consumers)
            {
                Assert.Equal((short)ErrorCode.None, (await BeatAsync(consumer)).ErrorCode);
                AssertDisjoint(consumers);
            }

            if ((await DescribeAsync(group)).GroupState == "Stable")
            {
                return;
            }
        }

        Assert.Fail("the group did not converge in 10 rounds of heartbeats");
    }

    private static void AssertDisjoint(List<Consumer> consumers)
    {
        var all = consumers.SelectMany(c => c.Owned).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
    }

    private void AssertBalanced(List<Consumer> consumers, string topic, int partitions)
    {
        AssertDisjoint(consumers);
        var id = _kafka.Broker.Metadata.Find(topic)!.Id;
        Assert.Equal(Enumerable.Range(0, partitions).Select(p => (id, p)), consumers.SelectMany(c => c.Owned).Order());
        Assert.True(consumers.Max(c => c.Owned.Count) - consumers.Min(c => c.Owned.Count) <= 1);
        var epoch = consumers.Max(c => c.Epoch);
        Assert.All(consumers, c => Assert.Equal(epoch, c.Epoch));
    }

    private async Task<ConsumerGroupDescribeResponse.DescribedGroup> DescribeAsync(string group = Group)
    {
        var described = await CallDescribeAsync(group);
        Assert.Equal((short)ErrorCode.None, described.ErrorCode);
        return described;
    }

    private async Task<ConsumerGroupDescribeResponse.DescribedGroup> CallDescribeAsync(string group) =>
        (await GroupTestBroker.CallAsync(_describe, new ConsumerGroupDescribeRequest { GroupIds = [group] }, 0)).Groups.Single();

    private sealed class Consumer(string memberId, string group)
    {
        public string MemberId { get; } = memberId;

        public string Group { get; } = group;

        public int Epoch { get; private set; }

        public HashSet<(Guid TopicId, int Partition)> Owned { get; private set; } = [];

        public bool ReportNext { get; private set; }

        public void Apply(ConsumerGroupHeartbeatResponse response)
        {
            Epoch = response.MemberEpoch;
            ReportNext = response.Assignment is not null;
            if (response.Assignment is not null)
            {
                Owned = [.. response.Assignment.TopicPartitions.SelectMany(t => t.Partitions.Select(p => (t.TopicId, p)))];
            }
        }
    }
}
