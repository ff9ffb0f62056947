using System.Text;
using Tributary.Broker.Config;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.Groups;

// Broker tier: the classic rebalance protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) driven through the
// handlers with a manual clock, as a consumer group of real clients would drive it.
public sealed class GroupMembershipTests : IDisposable
{
    private const string Group = "billing";
    private readonly GroupTestBroker _kafka = new();

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public async Task Three_members_join_the_first_becomes_leader_and_each_gets_the_assignment_the_leader_sent()
    {
        // The first member forms generation 1 alone.
        var (m1, join1) = await _kafka.JoinNewMemberAsync(Group, "c1");
        var gen1 = await join1;
        Assert.Equal(1, gen1.GenerationId);
        Assert.Equal(m1, gen1.Leader);
        Assert.Equal((short)ErrorCode.None, (await _kafka.SyncAsync(Group, m1, 1, (m1, [1]))).ErrorCode);

        // Two more join: their JoinGroup waits until the leader rejoins, which it learns from its heartbeat.
        var (m2, join2) = await _kafka.JoinNewMemberAsync(Group, "c2", Encoding.UTF8.GetBytes("meta-2"));
        var (m3, join3) = await _kafka.JoinNewMemberAsync(Group, "c3", Encoding.UTF8.GetBytes("meta-3"));
        Assert.False(join2.IsCompleted);
        Assert.Equal(ErrorCode.RebalanceInProgress, await _kafka.HeartbeatAsync(Group, m1, 1));
        var join1Again = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group, m1, metadata: Encoding.UTF8.GetBytes("meta-1")), 9);
        var (r2, r3) = (await join2, await join3);

        foreach (var r in new[] { join1Again, r2, r3 })
        {
            Assert.Equal((short)ErrorCode.None, r.ErrorCode);
            Assert.Equal(2, r.GenerationId);
            Assert.Equal(m1, r.Leader);
            Assert.Equal("range", r.ProtocolName);
        }

        // Only the leader sees the members, each with the metadata it joined with.
        Assert.Empty(r2.Members);
        Assert.Empty(r3.Members);
        var metadata = join1Again.Members.ToDictionary(m => m.MemberId, m => Encoding.UTF8.GetString(m.Metadata));
        Assert.Equal(new Dictionary<string, string> { [m1] = "meta-1", [m2] = "meta-2", [m3] = "meta-3" }, metadata);

        // Followers' SyncGroup waits for the leader's assignment.
        var sync2 = _kafka.SyncAsync(Group, m2, 2);
        var sync3 = _kafka.SyncAsync(Group, m3, 2);
        Assert.False(sync2.IsCompleted);
        var sync1 = await _kafka.SyncAsync(Group, m1, 2, (m1, [1]), (m2, [2]), (m3, [3]));
        Assert.Equal([1], sync1.Assignment);
        Assert.Equal([2], (await sync2).Assignment);
        Assert.Equal([3], (await sync3).Assignment);

        var described = await _kafka.DescribeAsync(Group);
        Assert.Equal("Stable", described.GroupState);
        Assert.Equal("range", described.ProtocolData);
        Assert.Equal([2], described.Members.Single(m => m.MemberId == m2).MemberAssignment);
        Assert.All(described.Members, m => Assert.Equal(GroupTestBroker.ClientHost, m.ClientHost));
    }

    [Fact]
    public async Task First_join_without_member_id_gets_member_id_required_from_v4_and_an_id_directly_below()
    {
        var v4 = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group), 4, "app");
        Assert.Equal((short)ErrorCode.MemberIdRequired, v4.ErrorCode);
        Assert.StartsWith("app-", v4.MemberId, StringComparison.Ordinal);
        Assert.Equal(-1, v4.GenerationId);

        var joined = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group, v4.MemberId), 4, "app");
        Assert.Equal((short)ErrorCode.None, joined.ErrorCode);
        Assert.Equal(v4.MemberId, joined.MemberId);
        Assert.Equal(v4.MemberId, joined.Leader);

        // Before v4 the coordinator assigns the id in the same round trip (it joins the rebalance the first started).
        var v3 = GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest("other"), 3, "old");
        var v3Response = await v3;
        Assert.Equal((short)ErrorCode.None, v3Response.ErrorCode);
        Assert.StartsWith("old-", v3Response.MemberId, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_restarted_static_member_takes_its_place_back_without_a_rebalance_and_fences_its_old_id()
    {
        var first = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group, instanceId: "pod-a"), 9);
        Assert.Equal((short)ErrorCode.None, first.ErrorCode);
        Assert.Equal((short)ErrorCode.None, (await _kafka.SyncAsync(Group, first.MemberId, 1, (first.MemberId, [7]))).ErrorCode);

        // Same instance id, no member id (the process restarted): the answer is immediate, same generation.
        var again = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group, instanceId: "pod-a"), 9);
        Assert.Equal((short)ErrorCode.None, again.ErrorCode);
        Assert.NotEqual(first.MemberId, again.MemberId);
        Assert.Equal(1, again.GenerationId);
        Assert.True(again.SkipAssignment);

        var sync = await _kafka.SyncAsync(Group, again.MemberId, 1);
        Assert.Equal([7], sync.Assignment);

        Assert.Equal(ErrorCode.FencedInstanceId, await _kafka.HeartbeatAsync(Group, first.MemberId, 1, "pod-a"));
        Assert.Equal(ErrorCode.None, await _kafka.HeartbeatAsync(Group, again.MemberId, 1, "pod-a"));
        Assert.Equal("Stable", (await _kafka.DescribeAsync(Group)).GroupState);
    }

    [Fact]
    public async Task Commits_of_a_static_member_keep_its_session_alive_as_heartbeats_do()
    {
        var joined = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group, instanceId: "pod-a"), 9);
        var member = joined.MemberId;
        Assert.Equal((short)ErrorCode.None, (await _kafka.SyncAsync(Group, member, 1, (member, [7]))).ErrorCode);

        // No heartbeat, a commit every 8 s for 24 s: more than twice the 10 s session.
        for (var i = 0; i < 3; i++)
        {
            _kafka.Time.Advance(TimeSpan.FromSeconds(8));
            Assert.Equal(ErrorCode.None, await _kafka.CommitAsync(Group, 0, i, generation: 1, memberId: member, instanceId: "pod-a"));
        }

        var described = await _kafka.DescribeAsync(Group);
        Assert.Equal(("Stable", "pod-a"), (described.GroupState, described.Members.Single().GroupInstanceId));

        // A refused commit (stale generation) keeps nothing alive: the session ends 10 s after the last good commit.
        _kafka.Time.Advance(TimeSpan.FromSeconds(8));
        Assert.Equal(ErrorCode.IllegalGeneration, await _kafka.CommitAsync(Group, 0, 9, generation: 0, memberId: member, instanceId: "pod-a"));
        _kafka.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("Empty", (await _kafka.DescribeAsync(Group)).GroupState);
    }

    [Fact]
    public async Task Commits_keep_a_static_member_alive_while_the_group_prepares_a_rebalance()
    {
        var joined = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group, instanceId: "pod-a"), 9);
        var member = joined.MemberId;
        await _kafka.SyncAsync(Group, member, 1, (member, [7]));

        // A newcomer starts a rebalance (20 s timeout); pod-a has not rejoined yet and only commits.
        var (_, newcomer) = await _kafka.JoinNewMemberAsync(Group, "c2");
        for (var i = 0; i < 2; i++)
        {
            _kafka.Time.Advance(TimeSpan.FromSeconds(8));
            Assert.Equal(ErrorCode.None, await _kafka.CommitAsync(Group, 0, i, generation: 1, memberId: member, instanceId: "pod-a"));
        }

        var described = await _kafka.DescribeAsync(Group);
        Assert.Equal(("PreparingRebalance", 2), (described.GroupState, described.Members.Count));
        Assert.False(newcomer.IsCompleted);
    }

    [Fact]
    public async Task A_member_that_stops_heartbeating_is_expired_and_the_others_rebalance_without_it()
    {
        var (m1, m2) = await FormStableGroupOfTwoAsync();

        // m1 heartbeats every 4 s; m2 is silent for longer than its 10 s session.
        for (var i = 0; i < 3; i++)
        {
            _kafka.Time.Advance(TimeSpan.FromSeconds(4));
            var expected = i < 2 ? ErrorCode.None : ErrorCode.RebalanceInProgress;
            Assert.Equal(expected, await _kafka.HeartbeatAsync(Group, m1, 2));
        }

        var rejoin = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group, m1), 9);
        Assert.Equal(3, rejoin.GenerationId);
        Assert.Equal([m1], rejoin.Members.Select(m => m.MemberId));
        Assert.Equal(ErrorCode.UnknownMemberId, await _kafka.HeartbeatAsync(Group, m2, 2));
    }

    [Fact]
    public async Task A_member_that_does_not_rejoin_within_the_rebalance_timeout_is_removed()
    {
        var (m1, m2) = await FormStableGroupOfTwoAsync();

        var (m3, join3) = await _kafka.JoinNewMemberAsync(Group, "c3");
        var join1 = GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group, m1), 9);

        // m2 keeps heartbeating, so its session never expires, but it never rejoins: the rebalance timeout (20 s)
        // removes it.
        for (var i = 0; i < 2; i++)
        {
            _kafka.Time.Advance(TimeSpan.FromSeconds(8));
            Assert.Equal(ErrorCode.RebalanceInProgress, await _kafka.HeartbeatAsync(Group, m2, 2));
            Assert.False(join1.IsCompleted);
        }

        _kafka.Time.Advance(TimeSpan.FromSeconds(8));
        Assert.Equal(ErrorCode.UnknownMemberId, await _kafka.HeartbeatAsync(Group, m2, 2));

        var (r1, r3) = (await join1, await join3);
        Assert.Equal(3, r1.GenerationId);
        Assert.Equal(3, r3.GenerationId);
        Assert.Equal(new[] { m1, m3 }.Order(), r1.Members.Select(m => m.MemberId).Order());
    }

    [Fact]
    public async Task Stale_generation_and_unknown_member_are_rejected()
    {
        var (m1, _) = await FormStableGroupOfTwoAsync();

        Assert.Equal(ErrorCode.IllegalGeneration, await _kafka.HeartbeatAsync(Group, m1, 1));
        Assert.Equal((short)ErrorCode.IllegalGeneration, (await _kafka.SyncAsync(Group, m1, 1)).ErrorCode);
        Assert.Equal(ErrorCode.UnknownMemberId, await _kafka.HeartbeatAsync(Group, "nobody", 2));
        Assert.Equal((short)ErrorCode.UnknownMemberId, (await _kafka.SyncAsync(Group, "nobody", 2)).ErrorCode);
        Assert.Equal(ErrorCode.UnknownMemberId, await _kafka.HeartbeatAsync("no-such-group", m1, 2));
        var join = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group, "nobody"), 9);
        Assert.Equal((short)ErrorCode.UnknownMemberId, join.ErrorCode);
    }

    [Fact]
    public async Task Joining_with_another_protocol_type_or_no_common_protocol_is_inconsistent()
    {
        await FormStableGroupOfTwoAsync();

        var otherType = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group, protocolType: "connect"), 5);
        Assert.Equal((short)ErrorCode.InconsistentGroupProtocol, otherType.ErrorCode);
        var otherProtocol = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group, protocol: "roundrobin"), 5);
        Assert.Equal((short)ErrorCode.InconsistentGroupProtocol, otherProtocol.ErrorCode);
        Assert.Equal(2, (await _kafka.DescribeAsync(Group)).Members.Count);
    }

    [Fact]
    public async Task A_member_beyond_group_max_size_is_refused()
    {
        using var kafka = new GroupTestBroker(new BrokerConfig { GroupMaxSize = 1 });
        var first = await GroupTestBroker.CallAsync(kafka.Join, GroupTestBroker.JoinRequest(Group), 3);
        Assert.Equal((short)ErrorCode.None, first.ErrorCode);

        var second = await GroupTestBroker.CallAsync(kafka.Join, GroupTestBroker.JoinRequest(Group), 3);
        Assert.Equal((short)ErrorCode.GroupMaxSizeReached, second.ErrorCode);
        Assert.Single((await kafka.DescribeAsync(Group)).Members);
    }

    [Fact]
    public async Task A_session_timeout_outside_the_broker_bounds_is_refused()
    {
        var request = GroupTestBroker.JoinRequest(Group);
        request.SessionTimeoutMs = 1000;
        var response = await GroupTestBroker.CallAsync(_kafka.Join, request, 9);
        Assert.Equal((short)ErrorCode.InvalidSessionTimeout, response.ErrorCode);
    }

    [Fact]
    public async Task Rejoining_with_new_metadata_while_stable_starts_a_new_generation_as_cooperative_sticky_does()
    {
        var (m1, m2) = await FormStableGroupOfTwoAsync();

        // Cooperative-sticky: after revoking partitions a member rejoins with its new owned partitions.
        var rejoin2 = GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group, m2, metadata: [9, 9]), 9);
        Assert.Equal(ErrorCode.RebalanceInProgress, await _kafka.HeartbeatAsync(Group, m1, 2));
        var rejoin1 = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group, m1), 9);
        Assert.Equal(3, rejoin1.GenerationId);
        Assert.Equal(3, (await rejoin2).GenerationId);
        Assert.Equal([9, 9], rejoin1.Members.Single(m => m.MemberId == m2).Metadata);

        // And again: every such rejoin is a new generation.
        var sync2 = _kafka.SyncAsync(Group, m2, 3);
        await _kafka.SyncAsync(Group, m1, 3, (m1, [1]), (m2, [2]));
        Assert.Equal([2], (await sync2).Assignment);
        var third = GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group, m2, metadata: [8]), 9);
        Assert.Equal(4, (await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group, m1), 9)).GenerationId);
        Assert.Equal(4, (await third).GenerationId);
    }

    [Fact]
    public async Task Leaving_in_a_batch_empties_the_group_and_unknown_members_are_reported()
    {
        var (m1, m2) = await FormStableGroupOfTwoAsync();

        var response = await GroupTestBroker.CallAsync(_kafka.Leave, new LeaveGroupRequest
        {
            GroupId = Group,
            Members = [new() { MemberId = m1 }, new() { MemberId = m2 }, new() { MemberId = "ghost" }],
        }, 5);

        Assert.Equal(
            [(short)ErrorCode.None, (short)ErrorCode.None, (short)ErrorCode.UnknownMemberId],
            response.Members.Select(m => m.ErrorCode));
        var described = await _kafka.DescribeAsync(Group);
        Assert.Equal("Empty", described.GroupState);
        Assert.Empty(described.Members);
    }

    [Fact]
    public async Task The_first_rebalance_of_an_empty_group_waits_the_initial_delay_and_each_newcomer_extends_it()
    {
        using var kafka = new GroupTestBroker(initialRebalanceDelayMs: 3000);

        // Every member is in, yet the join phase waits out the 3 s delay: consumers starting together form one group.
        var (m1, join1) = await kafka.JoinNewMemberAsync(Group, "c1");
        kafka.Time.Advance(TimeSpan.FromMilliseconds(2999));
        await AssertStillJoiningAsync(kafka);

        // A second member arrives just before the end: the delay starts again from the end of the first one.
        var (m2, join2) = await kafka.JoinNewMemberAsync(Group, "c2");
        kafka.Time.Advance(TimeSpan.FromMilliseconds(1));
        kafka.Time.Advance(TimeSpan.FromMilliseconds(2999));
        await AssertStillJoiningAsync(kafka);

        // A whole delay with no newcomer: generation 1 forms with both members, not one generation per member.
        kafka.Time.Advance(TimeSpan.FromMilliseconds(1));
        var (r1, r2) = (await join1, await join2);
        Assert.Equal((1, 1), (r1.GenerationId, r2.GenerationId));
        Assert.Equal(new[] { m1, m2 }.Order(), r1.Members.Select(m => m.MemberId).Order());

        // Only an Empty group's rebalance is delayed: once it is formed, a newcomer's rebalance completes as soon as
        // every member has rejoined, without the clock moving.
        var sync2 = kafka.SyncAsync(Group, m2, 1);
        await kafka.SyncAsync(Group, m1, 1, (m1, [1]), (m2, [2]));
        await sync2;
        var (_, join3) = await kafka.JoinNewMemberAsync(Group, "c3");
        var rejoin1 = GroupTestBroker.CallAsync(kafka.Join, GroupTestBroker.JoinRequest(Group, m1), 9);
        var rejoin2 = GroupTestBroker.CallAsync(kafka.Join, GroupTestBroker.JoinRequest(Group, m2), 9);
        Assert.Equal([2, 2, 2], (await Task.WhenAll(join3, rejoin1, rejoin2)).Select(r => r.GenerationId));
    }

    [Fact]
    public async Task The_initial_delay_extended_by_a_stream_of_newcomers_ends_at_the_rebalance_timeout()
    {
        using var kafka = new GroupTestBroker(initialRebalanceDelayMs: 3000);

        // After the first member, one arrives 1 s into every 3 s delay window (at 1 s, 4 s, ... 19 s): without a bound
        // the group would never form. The join phase ends once the first member's 20 s rebalance timeout has passed.
        var joins = new List<Task<JoinGroupResponse>> { (await kafka.JoinNewMemberAsync(Group, "c0")).Join };
        for (var i = 1; i <= 7; i++)
        {
            kafka.Time.Advance(TimeSpan.FromMilliseconds(i == 1 ? 1000 : 3000));
            await AssertStillJoiningAsync(kafka);
            joins.Add((await kafka.JoinNewMemberAsync(Group, $"c{i}")).Join);
        }

        kafka.Time.Advance(TimeSpan.FromMilliseconds(999));
        await AssertStillJoiningAsync(kafka);
        kafka.Time.Advance(TimeSpan.FromMilliseconds(1));
        var responses = await Task.WhenAll(joins);
        Assert.All(responses, r => Assert.Equal((short)ErrorCode.None, r.ErrorCode));
        Assert.All(responses, r => Assert.Equal(1, r.GenerationId));
        Assert.Equal(joins.Count, responses.Single(r => r.Leader == r.MemberId).Members.Count);
    }

    /// <summary>The join phase has not completed: no JoinGroup was answered and no generation formed.</summary>
    private static async Task AssertStillJoiningAsync(GroupTestBroker kafka)
    {
        var described = await kafka.DescribeAsync(Group);
        Assert.Equal("PreparingRebalance", described.GroupState);
    }

    /// <summary>Two members in a Stable generation 2, m1 leader; both synced.</summary>
    private async Task<(string M1, string M2)> FormStableGroupOfTwoAsync()
    {
        var (m1, join1) = await _kafka.JoinNewMemberAsync(Group, "c1");
        await join1;
        await _kafka.SyncAsync(Group, m1, 1, (m1, [1]));
        var (m2, join2) = await _kafka.JoinNewMemberAsync(Group, "c2");
        var rejoin1 = await GroupTestBroker.CallAsync(_kafka.Join, GroupTestBroker.JoinRequest(Group, m1), 9);
        Assert.Equal(2, (await join2).GenerationId);
        var sync2 = _kafka.SyncAsync(Group, m2, 2);
        await _kafka.SyncAsync(Group, m1, rejoin1.GenerationId, (m1, [1]), (m2, [2]));
        Assert.Equal((short)ErrorCode.None, (await sync2).ErrorCode);
        return (m1, m2);
    }
}
