using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.Groups;

// Broker tier: KIP-345 static members of a classic group as Kafka's coordinator treats them: a restarted member (same
// group.instance.id, no member id) takes its place back without a rebalance unless the group's protocol choice changes
// or the group is between JoinGroup and SyncGroup, and requests naming an instance id are checked against it.
public sealed class StaticMembershipTests : IDisposable
{
    private const string Group = "billing";
    private readonly GroupTestBroker _kafka = new();

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public async Task A_restarted_static_leader_below_v9_keeps_the_generation_and_is_given_the_previous_leader_id()
    {
        var (a, b) = await FormStableGroupAsync(version: 5);

        var restarted = await JoinAsync(instanceId: "pod-a", version: 5);
        Assert.Equal((short)ErrorCode.None, restarted.ErrorCode);
        Assert.NotEqual(a, restarted.MemberId);
        Assert.Equal(2, restarted.GenerationId);

        // Before KIP-814 a leader cannot be told to skip the assignment, so Kafka names the previous leader id: the
        // client takes itself for a follower and fetches its assignment instead of computing one nobody would use.
        Assert.Equal(a, restarted.Leader);
        Assert.Empty(restarted.Members);
        Assert.Equal([1], (await SyncAsync(restarted.MemberId, 2, "pod-a")).Assignment);

        // The other member sees no rebalance, and the old process is fenced.
        Assert.Equal(ErrorCode.None, await _kafka.HeartbeatAsync(Group, b, 2, "pod-b"));
        Assert.Equal(ErrorCode.FencedInstanceId, await _kafka.HeartbeatAsync(Group, a, 2, "pod-a"));
        var described = await _kafka.DescribeAsync(Group);
        Assert.Equal("Stable", described.GroupState);
        Assert.Equal(new[] { restarted.MemberId, b }, described.Members.Select(m => m.MemberId).Order(StringComparer.Ordinal));

        // The restarted process leads the next rebalance under its new id.
        var (_, newcomer) = await _kafka.JoinNewMemberAsync(Group, "c3");
        Assert.Equal(ErrorCode.RebalanceInProgress, await _kafka.HeartbeatAsync(Group, b, 2, "pod-b"));
        var rejoinA = JoinAsync(restarted.MemberId, "pod-a", 5);
        var rejoinB = JoinAsync(b, "pod-b", 5);
        var (joinedA, joinedB, joinedC) = (await rejoinA, await rejoinB, await newcomer);
        Assert.All(new[] { joinedA, joinedB, joinedC }, r => Assert.Equal((3, restarted.MemberId), (r.GenerationId, r.Leader)));
        Assert.Equal(3, joinedA.Members.Count);
    }

    [Fact]
    public async Task A_restarted_static_leader_from_v9_is_told_to_skip_the_assignment_and_sees_every_member()
    {
        var (_, b) = await FormStableGroupAsync(version: 9);

        var restarted = await JoinAsync(instanceId: "pod-a", version: 9);
        Assert.Equal((short)ErrorCode.None, restarted.ErrorCode);
        Assert.Equal((2, restarted.MemberId, true), (restarted.GenerationId, restarted.Leader, restarted.SkipAssignment));
        Assert.Equal(
            new[] { $"{restarted.MemberId}/pod-a", $"{b}/pod-b" },
            restarted.Members.Select(m => $"{m.MemberId}/{m.GroupInstanceId}").Order(StringComparer.Ordinal));
        Assert.Equal([1], (await SyncAsync(restarted.MemberId, 2, "pod-a")).Assignment);
        Assert.Equal(ErrorCode.None, await _kafka.HeartbeatAsync(Group, b, 2, "pod-b"));
        Assert.Equal("Stable", (await _kafka.DescribeAsync(Group)).GroupState);
    }

    [Fact]
    public async Task A_restarted_static_follower_keeps_its_assignment_and_its_old_id_is_fenced_everywhere()
    {
        var (a, b) = await FormStableGroupAsync(version: 5);

        var restarted = await JoinAsync(instanceId: "pod-b", version: 5);
        Assert.Equal((short)ErrorCode.None, restarted.ErrorCode);
        Assert.Equal((2, a, false), (restarted.GenerationId, restarted.Leader, restarted.SkipAssignment));
        Assert.Empty(restarted.Members);
        Assert.Equal([2], (await SyncAsync(restarted.MemberId, 2, "pod-b")).Assignment);
        Assert.Equal(ErrorCode.None, await _kafka.HeartbeatAsync(Group, a, 2, "pod-a"));

        Assert.Equal(ErrorCode.FencedInstanceId, await _kafka.HeartbeatAsync(Group, b, 2, "pod-b"));
        Assert.Equal((short)ErrorCode.FencedInstanceId, (await SyncAsync(b, 2, "pod-b")).ErrorCode);
        Assert.Equal(ErrorCode.FencedInstanceId, await _kafka.CommitAsync(Group, 0, 5, generation: 2, memberId: b, instanceId: "pod-b"));
        Assert.Equal((short)ErrorCode.FencedInstanceId, (await JoinAsync(b, "pod-b", 5)).ErrorCode);
        Assert.Equal(ErrorCode.None, await _kafka.CommitAsync(Group, 0, 5, generation: 2, memberId: restarted.MemberId, instanceId: "pod-b"));
    }

    [Fact]
    public async Task A_static_member_restarting_with_another_protocol_choice_starts_a_rebalance()
    {
        var first = await JoinAsync(instanceId: "pod-a", version: 9);
        Assert.Equal("range", first.ProtocolName);
        await SyncAsync(first.MemberId, 1, "pod-a", (first.MemberId, [1]));

        // It now prefers roundrobin (and still supports range): the group's choice changes, so a new generation.
        var restarted = await JoinAsync(instanceId: "pod-a", version: 9, protocols: ["roundrobin", "range"]);
        Assert.Equal((short)ErrorCode.None, restarted.ErrorCode);
        Assert.Equal((2, "roundrobin", false), (restarted.GenerationId, restarted.ProtocolName, restarted.SkipAssignment));
    }

    [Fact]
    public async Task A_static_member_restarting_before_the_group_has_its_assignment_starts_a_rebalance()
    {
        // Generation 1 is formed but its leader has not sent SyncGroup: it may be assigning to the old member id.
        var first = await JoinAsync(instanceId: "pod-a", version: 9);
        Assert.Equal(1, first.GenerationId);

        var restarted = await JoinAsync(instanceId: "pod-a", version: 9);
        Assert.Equal((short)ErrorCode.None, restarted.ErrorCode);
        Assert.Equal((2, restarted.MemberId), (restarted.GenerationId, restarted.Leader));
        Assert.Equal((short)ErrorCode.FencedInstanceId, (await SyncAsync(first.MemberId, 1, "pod-a", (first.MemberId, [1]))).ErrorCode);
        Assert.Equal([2], (await SyncAsync(restarted.MemberId, 2, "pod-a", (restarted.MemberId, [2]))).Assignment);
    }

    [Fact]
    public async Task An_instance_id_no_member_has_is_an_unknown_member_and_one_another_member_holds_is_fenced()
    {
        var (dynamicId, dynamicJoin) = await _kafka.JoinNewMemberAsync(Group, "d");
        var generation = (await dynamicJoin).GenerationId;
        await _kafka.SyncAsync(Group, dynamicId, generation, (dynamicId, [1]));
        var staticJoin = JoinAsync(instanceId: "pod-a", version: 9);
        Assert.Equal(ErrorCode.RebalanceInProgress, await _kafka.HeartbeatAsync(Group, dynamicId, generation));
        await JoinAsync(dynamicId, null, 9);
        generation = (await staticJoin).GenerationId;
        await _kafka.SyncAsync(Group, dynamicId, generation);

        // A known member id that names an instance id nobody has: Kafka checks the instance id, not the member id.
        Assert.Equal(ErrorCode.UnknownMemberId, await _kafka.HeartbeatAsync(Group, dynamicId, generation, "ghost"));
        Assert.Equal((short)ErrorCode.UnknownMemberId, (await SyncAsync(dynamicId, generation, "ghost")).ErrorCode);
        Assert.Equal(ErrorCode.UnknownMemberId, await _kafka.CommitAsync(Group, 0, 1, generation: generation, memberId: dynamicId, instanceId: "ghost"));
        Assert.Equal((short)ErrorCode.UnknownMemberId, (await JoinAsync(dynamicId, "ghost", 9)).ErrorCode);

        // An instance id that another member holds: fenced, whether or not the member id is known.
        foreach (var memberId in new[] { dynamicId, "nobody" })
        {
            Assert.Equal(ErrorCode.FencedInstanceId, await _kafka.HeartbeatAsync(Group, memberId, generation, "pod-a"));
            Assert.Equal((short)ErrorCode.FencedInstanceId, (await SyncAsync(memberId, generation, "pod-a")).ErrorCode);
            Assert.Equal(ErrorCode.FencedInstanceId, await _kafka.CommitAsync(Group, 0, 1, generation: generation, memberId: memberId, instanceId: "pod-a"));
            Assert.Equal((short)ErrorCode.FencedInstanceId, (await JoinAsync(memberId, "pod-a", 9)).ErrorCode);
        }

        Assert.Equal(ErrorCode.None, await _kafka.HeartbeatAsync(Group, dynamicId, generation));
        Assert.Equal("Stable", (await _kafka.DescribeAsync(Group)).GroupState);
    }

    /// <summary>
    /// Static members pod-a (the leader, assigned [1]) and pod-b (assigned [2]) in a Stable generation 2, joined with
    /// JoinGroup <paramref name="version"/>.
    /// </summary>
    private async Task<(string A, string B)> FormStableGroupAsync(short version)
    {
        var first = await JoinAsync(instanceId: "pod-a", version: version);
        var a = first.MemberId;
        await SyncAsync(a, 1, "pod-a", (a, [1]));

        var joinB = JoinAsync(instanceId: "pod-b", version: version);
        Assert.Equal(ErrorCode.RebalanceInProgress, await _kafka.HeartbeatAsync(Group, a, 1, "pod-a"));
        var rejoinA = await JoinAsync(a, "pod-a", version);
        var b = (await joinB).MemberId;
        Assert.Equal((2, a), (rejoinA.GenerationId, rejoinA.Leader));

        var syncB = SyncAsync(b, 2, "pod-b");
        await SyncAsync(a, 2, "pod-a", (a, [1]), (b, [2]));
        Assert.Equal([2], (await syncB).Assignment);
        return (a, b);
    }

    private Task<JoinGroupResponse> JoinAsync(string memberId = "", string? instanceId = null, short version = 9, string[]? protocols = null)
    {
        var request = GroupTestBroker.JoinRequest(Group, memberId, instanceId);
        if (protocols is not null)
        {
            request.Protocols = [.. protocols.Select(p => new JoinGroupRequest.JoinGroupRequestProtocol { Name = p, Metadata = GroupTestBroker.Subscription(GroupTestBroker.Topic) })];
        }

        return GroupTestBroker.CallAsync(_kafka.Join, request, version);
    }

    private Task<SyncGroupResponse> SyncAsync(string memberId, int generation, string? instanceId, params (string MemberId, byte[] Assignment)[] assignments) =>
        _kafka.SyncAsync(Group, memberId, generation, instanceId, assignments);
}
