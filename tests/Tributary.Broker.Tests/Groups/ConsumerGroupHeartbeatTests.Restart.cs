using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.Groups;

// Broker tier: KIP-848 consumer groups across a broker restart. The group is written to __consumer_offsets as it
// changes and read back when the broker starts on the same storage (same manual clock), as a Kafka coordinator loads
// its groups: members that keep heartbeating carry on with their epoch and partitions, members that never return expire
// after a fresh session timeout, and what had left or been deleted stays gone.
public sealed partial class ConsumerGroupHeartbeatTests
{
    private string? _directory;

    [Fact]
    public async Task Members_carry_on_after_a_restart_with_their_epochs_and_partitions_and_no_rebalance()
    {
        UseDisk();
        var consumers = new List<Consumer> { await JoinAsync("c1", Wide), await JoinAsync("c2", Wide, instanceId: "pod-2") };
        await ConvergeAsync(consumers);
        var before = await DescribeAsync();
        var owned = consumers.Select(c => c.Owned.Order().ToList()).ToList();

        Restart();

        // Each heartbeats with its id and epoch as it would have anyway: no UNKNOWN_MEMBER_ID, no fencing, and the
        // answer repeats its assignment (the answer that last carried it may have been lost with the broker).
        foreach (var consumer in consumers)
        {
            var epoch = consumer.Epoch;
            var response = await BeatAsync(consumer);
            Assert.Equal((short)ErrorCode.None, response.ErrorCode);
            Assert.Equal(epoch, response.MemberEpoch);
            Assert.NotNull(response.Assignment);
        }

        Assert.Equal(owned, consumers.Select(c => c.Owned.Order().ToList()));
        var after = await DescribeAsync();
        Assert.Equal(("Stable", before.GroupEpoch, before.AssignmentEpoch, before.AssignorName), (after.GroupState, after.GroupEpoch, after.AssignmentEpoch, after.AssignorName));
        Assert.Equal(Summary(before), Summary(after));
        Assert.All(after.Members, m => Assert.Equal(GroupTestBroker.ClientHost, m.ClientHost));
        Assert.Equal("pod-2", after.Members.Single(m => m.MemberId == consumers[1].MemberId).InstanceId);

        // Offsets commit with the restored epoch.
        Assert.Equal(ErrorCode.None, await _kafka.CommitAsync(Group, 0, 5, generation: consumers[0].Epoch, memberId: consumers[0].MemberId));

        static List<string> Summary(ConsumerGroupDescribeResponse.DescribedGroup group) =>
            [.. group.Members.OrderBy(m => m.MemberId, StringComparer.Ordinal).Select(m =>
                $"{m.MemberId} epoch {m.MemberEpoch} client {m.ClientId} topics {string.Join(',', m.SubscribedTopicNames)}"
                + $" owns {Partitions(m.Assignment)} target {Partitions(m.TargetAssignment)}")];

        static string Partitions(ConsumerGroupDescribeResponse.Assignment assignment) =>
            string.Join(',', assignment.TopicPartitions.SelectMany(t => t.Partitions.Select(p => $"{t.TopicName}-{p}")).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_member_that_does_not_come_back_after_a_restart_expires_a_session_timeout_later()
    {
        UseDisk();
        var consumers = new List<Consumer> { await JoinAsync("c1", Wide), await JoinAsync("c2", Wide) };
        await ConvergeAsync(consumers);
        var epoch = (await DescribeAsync()).GroupEpoch;

        Restart();

        // Only c1 heartbeats, every 5 s. c2 gets a fresh 45 s session from the restart: it is still a member after
        // 40 s, and gone at 45 s, when c1 takes over its partitions.
        for (var i = 0; i < 8; i++)
        {
            _kafka.Time.Advance(TimeSpan.FromSeconds(5));
            await BeatAsync(consumers[0]);
        }

        Assert.Equal(2, (await DescribeAsync()).Members.Count);
        _kafka.Time.Advance(TimeSpan.FromSeconds(5));
        await ConvergeAsync([consumers[0]]);
        var described = await DescribeAsync();
        Assert.Equal([consumers[0].MemberId], described.Members.Select(m => m.MemberId));
        Assert.Equal(epoch + 1, described.GroupEpoch);
        Assert.Equal(6, consumers[0].Owned.Count);
        Assert.Equal((short)ErrorCode.UnknownMemberId, (await BeatAsync(consumers[1])).ErrorCode);
    }

    [Fact]
    public async Task A_revocation_in_progress_survives_a_restart_so_no_partition_gets_two_owners()
    {
        UseDisk();
        var first = await JoinAsync("c1", Wide);
        var second = await JoinAsync("c2", Wide);
        await BeatAsync(first);
        Assert.Equal(3, first.Owned.Count);

        Restart();

        // c1 was asked to give up three partitions and has not confirmed. A heartbeat that reports nothing is not a
        // confirmation (c1 may still be processing them), so c2 still gets nothing.
        var silent = await CallAsync(new ConsumerGroupHeartbeatRequest { GroupId = Group, MemberId = first.MemberId, MemberEpoch = first.Epoch });
        Assert.Equal((1, 3), (silent.MemberEpoch, silent.Assignment!.TopicPartitions.Single().Partitions.Count));
        await BeatAsync(second);
        Assert.Empty(second.Owned);

        await ConvergeAsync([first, second]);
        AssertBalanced([first, second], Wide, 6);
    }

    [Fact]
    public async Task Members_that_left_and_groups_that_were_deleted_stay_gone_after_a_restart_and_a_static_member_can_return()
    {
        UseDisk();
        var consumers = new List<Consumer> { await JoinAsync("c1", Wide), await JoinAsync("c2", Wide) };
        await ConvergeAsync(consumers);
        Assert.Equal(-1, (await CallAsync(new ConsumerGroupHeartbeatRequest { GroupId = Group, MemberId = consumers[1].MemberId, MemberEpoch = -1 })).MemberEpoch);

        var temporary = await JoinAsync("s1", Wide, group: "statics", instanceId: "pod-1");
        Assert.Equal(-2, (await CallAsync(new ConsumerGroupHeartbeatRequest { GroupId = "statics", MemberId = temporary.MemberId, MemberEpoch = -2, InstanceId = "pod-1" })).MemberEpoch);

        var gone = await JoinAsync("g1", Wide, group: "gone");
        await CallAsync(new ConsumerGroupHeartbeatRequest { GroupId = "gone", MemberId = gone.MemberId, MemberEpoch = -1 });
        var deleted = await GroupTestBroker.CallAsync(_kafka.DeleteGroups, new DeleteGroupsRequest { GroupsNames = ["gone"] }, 2);
        Assert.Equal((short)ErrorCode.None, deleted.Results.Single().ErrorCode);

        Restart();

        Assert.Equal([consumers[0].MemberId], (await DescribeAsync()).Members.Select(m => m.MemberId));
        Assert.Equal((short)ErrorCode.UnknownMemberId, (await BeatAsync(consumers[1])).ErrorCode);
        Assert.Equal((short)ErrorCode.GroupIdNotFound, (await CallDescribeAsync("gone")).ErrorCode);

        // The static member that left with epoch -2 kept its partitions across the restart and takes them back.
        var back = await CallAsync(JoinRequest("statics", "", instanceId: "pod-1"));
        Assert.Equal((short)ErrorCode.None, back.ErrorCode);
        Assert.Equal(temporary.Epoch, back.MemberEpoch);
        Assert.Equal(6, back.Assignment!.TopicPartitions.Single().Partitions.Count);
    }

    [Fact]
    public async Task Heartbeats_that_change_nothing_write_nothing_to_consumer_offsets()
    {
        var consumers = new List<Consumer> { await JoinAsync("c1", Wide), await JoinAsync("c2", Wide) };
        await ConvergeAsync(consumers);
        var log = _kafka.Broker.FindLog(_kafka.Broker.Metadata.Find("__consumer_offsets")!, _kafka.Broker.Groups.CoordinatorPartitionFor(Group))!;
        var end = log.HighWatermark;

        for (var i = 0; i < 3; i++)
        {
            _kafka.Time.Advance(TimeSpan.FromSeconds(5));
            await ConvergeAsync(consumers);
        }

        Assert.Equal(end, log.HighWatermark);
        await CallAsync(new ConsumerGroupHeartbeatRequest { GroupId = Group, MemberId = consumers[1].MemberId, MemberEpoch = -1 });
        Assert.True(log.HighWatermark > end);
    }

    [Fact]
    public async Task An_empty_consumer_group_is_deleted_at_the_offsets_retention_check_once_it_has_no_offsets()
    {
        UseDisk();
        var idle = await JoinAsync("c1", Wide, group: "idle");
        await CallAsync(new ConsumerGroupHeartbeatRequest { GroupId = "idle", MemberId = idle.MemberId, MemberEpoch = -1 });
        var committed = await JoinAsync("c2", GroupTestBroker.Topic, group: "committed");
        Assert.Equal(ErrorCode.None, await _kafka.CommitAsync("committed", 0, 9, generation: committed.Epoch, memberId: committed.MemberId));
        await CallAsync(new ConsumerGroupHeartbeatRequest { GroupId = "committed", MemberId = committed.MemberId, MemberEpoch = -1 });
        Assert.Equal("Empty", (await DescribeAsync("idle")).GroupState);

        // The check runs every 10 minutes (offsets.retention.check.interval.ms): the group without offsets goes, the one
        // whose offsets have not expired yet stays, and a restart does not bring the deleted one back.
        _kafka.Time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal((short)ErrorCode.GroupIdNotFound, (await CallDescribeAsync("idle")).ErrorCode);
        Assert.Equal("Empty", (await DescribeAsync("committed")).GroupState);
        Restart();
        Assert.Equal((short)ErrorCode.GroupIdNotFound, (await CallDescribeAsync("idle")).ErrorCode);
        Assert.Equal("Empty", (await DescribeAsync("committed")).GroupState);
        Assert.Equal(9, (await _kafka.FetchAsync("committed", 0)).CommittedOffset);
    }

    [Fact]
    public async Task A_members_regex_survives_a_restart_and_still_picks_up_new_topics()
    {
        UseDisk();
        _kafka.Broker.CreateTopic("pay-eu", 2, new Dictionary<string, string>());
        var member = await JoinRegexAsync("c1", "pay-.*");
        Assert.Equal(["pay-eu"], TopicsOf(member));

        Restart();

        Assert.Equal("pay-.*", (await DescribeAsync()).Members.Single().SubscribedTopicRegex);
        _kafka.Broker.CreateTopic("pay-us", 2, new Dictionary<string, string>());
        await BeatAsync(member);
        Assert.Equal(["pay-eu", "pay-us"], TopicsOf(member));
    }

    /// <summary>Moves the test to a broker on disk (same clock), so it can restart.</summary>
    private void UseDisk()
    {
        var (time, directory) = (_kafka.Time, Directory.CreateTempSubdirectory("tributary-kip848-").FullName);
        _directory = directory;
        Use(() => new GroupTestBroker(time: time, directory: directory));
    }

    /// <summary>Stops the broker and starts another on the same storage and clock: __consumer_offsets is read back.</summary>
    private void Restart()
    {
        var (time, directory) = (_kafka.Time, _directory ?? throw new InvalidOperationException("UseDisk first"));
        Use(() => new GroupTestBroker(time: time, directory: directory));
    }
}
