using Tributary.Broker.Groups;
using Tributary.Protocol;

namespace Tributary.Broker.Tests.Groups;

// The records of __consumer_offsets are on disk: these bytes are fixed forever. A change here means existing
// brokers could no longer load their committed offsets, so it needs a new key type or value version instead.
public sealed class OffsetsTopicFormatTests
{
    [Fact]
    public void Offset_records_have_a_fixed_layout_and_read_back()
    {
        var key = OffsetsTopicFormat.OffsetKey("g", "t", 1);
        var value = OffsetsTopicFormat.OffsetValue(new CommittedOffset(5, 2, "m", 1000));

        Assert.Equal("0001" + "0001" + "67" + "0001" + "74" + "00000001", Convert.ToHexString(key));
        Assert.Equal("0000" + "0000000000000005" + "00000002" + "0001" + "6D" + "00000000000003E8", Convert.ToHexString(value));
        Assert.Equal(
            new OffsetsTopicFormat.OffsetEntry("g", "t", 1, new CommittedOffset(5, 2, "m", 1000)),
            OffsetsTopicFormat.Decode(key, value));
        Assert.Equal(new OffsetsTopicFormat.OffsetEntry("g", "t", 1, null), OffsetsTopicFormat.Decode(key, null));
    }

    [Fact]
    public void Group_records_have_a_fixed_layout_and_read_back()
    {
        var member = new OffsetsTopicFormat.MemberSnapshot("m", null, "c", "h", 20, 10, [1], [2]);
        var snapshot = new OffsetsTopicFormat.GroupSnapshot("c", 3, "r", "m", 7, [member]);
        var key = OffsetsTopicFormat.GroupKey("g");
        var value = OffsetsTopicFormat.GroupValue(snapshot);

        Assert.Equal("0002" + "0001" + "67", Convert.ToHexString(key));
        Assert.Equal(
            "0000" + "000163" + "00000003" + "000172" + "00016D" + "0000000000000007" + "00000001"
            + "00016D" + "FFFF" + "000163" + "000168" + "00000014" + "0000000A" + "0000000101" + "0000000102",
            Convert.ToHexString(value));

        var decoded = Assert.IsType<OffsetsTopicFormat.GroupEntry>(OffsetsTopicFormat.Decode(key, value));
        Assert.Equal(("c", 3, "r", "m", 7L), (decoded.Snapshot!.ProtocolType, decoded.Snapshot.Generation, decoded.Snapshot.ProtocolName, decoded.Snapshot.Leader, decoded.Snapshot.StateTimestampMs));
        var m = Assert.Single(decoded.Snapshot.Members);
        Assert.Equal(("m", (string?)null, "c", "h", 20, 10), (m.MemberId, m.GroupInstanceId, m.ClientId, m.ClientHost, m.RebalanceTimeoutMs, m.SessionTimeoutMs));
        Assert.Equal([1], m.Subscription);
        Assert.Equal([2], m.Assignment);
    }

    [Fact]
    public void Consumer_group_records_have_a_fixed_layout_and_read_back()
    {
        var topicId = Guid.Parse("01020304-0506-0708-090a-0b0c0d0e0f10");
        const string TopicHex = "0102030405060708090A0B0C0D0E0F10";
        var key = OffsetsTopicFormat.ConsumerGroupKey("g");
        var value = OffsetsTopicFormat.ConsumerGroupValue(new OffsetsTopicFormat.ConsumerGroupSnapshot(5, 4, "r", [(topicId, 3)]));

        Assert.Equal("0003" + "0001" + "67", Convert.ToHexString(key));
        Assert.Equal("0000" + "00000005" + "00000004" + "000172" + "00000001" + TopicHex + "00000003", Convert.ToHexString(value));
        var decoded = Assert.IsType<OffsetsTopicFormat.ConsumerGroupEntry>(OffsetsTopicFormat.Decode(key, value));
        Assert.Equal(("g", 5, 4, "r"), (decoded.Group, decoded.Snapshot!.GroupEpoch, decoded.Snapshot.AssignmentEpoch, decoded.Snapshot.Assignor));
        Assert.Equal([(topicId, 3)], decoded.Snapshot.PartitionCounts);
        Assert.Equal(new OffsetsTopicFormat.ConsumerGroupEntry("g", null), OffsetsTopicFormat.Decode(key, null));
    }

    [Fact]
    public void Consumer_member_and_target_records_have_a_fixed_layout_and_read_back()
    {
        var topicId = Guid.Parse("01020304-0506-0708-090a-0b0c0d0e0f10");
        const string TopicHex = "0102030405060708090A0B0C0D0E0F10";
        var member = new OffsetsTopicFormat.ConsumerMemberSnapshot(
            InstanceId: null, RackId: "r", ClientId: "c", ClientHost: "h", RebalanceTimeoutMs: 20, SubscribedTopicNames: ["t"], ServerAssignor: null,
            MemberEpoch: 5, PreviousMemberEpoch: 4, LeftStatic: true, Assigned: [(topicId, [0, 2])], PendingRevocation: []);
        var memberKey = OffsetsTopicFormat.ConsumerMemberKey("g", "m");
        var memberValue = OffsetsTopicFormat.ConsumerMemberValue(member);

        Assert.Equal("0004" + "000167" + "00016D", Convert.ToHexString(memberKey));
        Assert.Equal(
            "0000" + "FFFF" + "000172" + "000163" + "000168" + "00000014" + "00000001" + "000174" + "FFFF" + "00000005" + "00000004" + "01"
            + "00000001" + TopicHex + "00000002" + "00000000" + "00000002" + "00000000",
            Convert.ToHexString(memberValue));
        var m = Assert.IsType<OffsetsTopicFormat.ConsumerMemberEntry>(OffsetsTopicFormat.Decode(memberKey, memberValue));
        Assert.Equal(("g", "m"), (m.Group, m.MemberId));
        var s = m.Snapshot!;
        Assert.Equal(((string?)null, "r", "c", "h", 20, (string?)null, 5, 4, true), (s.InstanceId, s.RackId, s.ClientId, s.ClientHost, s.RebalanceTimeoutMs, s.ServerAssignor, s.MemberEpoch, s.PreviousMemberEpoch, s.LeftStatic));
        Assert.Equal(["t"], s.SubscribedTopicNames);
        Assert.Equal(topicId, Assert.Single(s.Assigned).TopicId);
        Assert.Equal([0, 2], s.Assigned[0].Partitions);
        Assert.Empty(s.PendingRevocation);
        Assert.Equal(new OffsetsTopicFormat.ConsumerMemberEntry("g", "m", null), OffsetsTopicFormat.Decode(memberKey, null));

        var targetKey = OffsetsTopicFormat.ConsumerTargetKey("g", "m");
        var targetValue = OffsetsTopicFormat.ConsumerTargetValue([(topicId, [1])]);
        Assert.Equal("0005" + "000167" + "00016D", Convert.ToHexString(targetKey));
        Assert.Equal("0000" + "00000001" + TopicHex + "00000001" + "00000001", Convert.ToHexString(targetValue));
        var t = Assert.IsType<OffsetsTopicFormat.ConsumerTargetEntry>(OffsetsTopicFormat.Decode(targetKey, targetValue));
        Assert.Equal([1], Assert.Single(t.Partitions!).Partitions);
        Assert.Equal(new OffsetsTopicFormat.ConsumerTargetEntry("g", "m", null), OffsetsTopicFormat.Decode(targetKey, null));
    }

    [Fact]
    public void A_consumer_record_declaring_more_elements_than_it_holds_is_refused()
    {
        // A partitions list claiming a million topics in a few bytes: an error, not a million-entry allocation.
        var corrupt = Convert.FromHexString("0000" + "000F4240");
        Assert.Throws<ProtocolException>(() => OffsetsTopicFormat.Decode(OffsetsTopicFormat.ConsumerTargetKey("g", "m"), corrupt));
    }

    [Fact]
    public void Records_of_an_unknown_key_type_or_value_version_are_skipped_not_misread()
    {
        Assert.Null(OffsetsTopicFormat.Decode(Convert.FromHexString("0009000167"), null));
        Assert.Null(OffsetsTopicFormat.Decode(OffsetsTopicFormat.GroupKey("g"), Convert.FromHexString("0005")));
        Assert.Null(OffsetsTopicFormat.Decode(OffsetsTopicFormat.ConsumerMemberKey("g", "m"), Convert.FromHexString("0001")));
    }
}
