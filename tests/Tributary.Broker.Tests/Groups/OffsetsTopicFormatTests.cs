using Tributary.Broker.Groups;
using Tributary.Protocol;

namespace Tributary.Broker.Tests.Groups;

// The records of __consumer_offsets are Kafka's (Apache Kafka 4.2's coordinator record schemas): tools that read the
// topic decode these bytes, and brokers load them at start, so they are fixed. The hex below is Kafka's layout written
// out by hand: int16 record type, key fields; int16 value version, value fields.
public sealed class OffsetsTopicFormatTests
{
    private static readonly Guid TopicId = Guid.Parse("01020304-0506-0708-090a-0b0c0d0e0f10");
    private const string TopicHex = "0102030405060708090A0B0C0D0E0F10";

    [Fact]
    public void Offset_records_are_Kafkas_OffsetCommitKey_and_OffsetCommitValue_v3()
    {
        var key = OffsetsTopicFormat.OffsetKey("g", "t", 1);
        var value = OffsetsTopicFormat.OffsetValue(new CommittedOffset(5, 2, "m", 1000));

        // Key type 1: group, topic, partition. Value v3: offset, leader epoch, metadata, commit timestamp.
        Assert.Equal("0001" + "0001" + "67" + "0001" + "74" + "00000001", Convert.ToHexString(key));
        Assert.Equal("0003" + "0000000000000005" + "00000002" + "0001" + "6D" + "00000000000003E8", Convert.ToHexString(value));
        Assert.Equal(
            new OffsetsTopicFormat.OffsetEntry("g", "t", 1, new CommittedOffset(5, 2, "m", 1000)),
            OffsetsTopicFormat.Decode(key, value));
        Assert.Equal(new OffsetsTopicFormat.OffsetEntry("g", "t", 1, null), OffsetsTopicFormat.Decode(key, null));
    }

    [Fact]
    public void Offset_values_Kafka_wrote_at_other_versions_read_back()
    {
        var key = OffsetsTopicFormat.OffsetKey("g", "t", 1);

        // v1 (with an expire timestamp, no leader epoch) and Kafka's legacy key type 0.
        var v1 = Convert.FromHexString("0001" + "0000000000000005" + "0001" + "6D" + "00000000000003E8" + "00000000000007D0");
        Assert.Equal(new CommittedOffset(5, -1, "m", 1000), Assert.IsType<OffsetsTopicFormat.OffsetEntry>(OffsetsTopicFormat.Decode(key, v1)).Offset);
        var legacyKey = Convert.FromHexString("0000" + "0001" + "67" + "0001" + "74" + "00000001");
        Assert.Equal(("g", "t", 1), Assert.IsType<OffsetsTopicFormat.OffsetEntry>(OffsetsTopicFormat.Decode(legacyKey, null)) is var e ? (e.Group, e.Topic, e.Partition) : default);
    }

    [Fact]
    public void Group_records_are_Kafkas_GroupMetadataKey_and_GroupMetadataValue_v3()
    {
        var member = new OffsetsTopicFormat.MemberSnapshot("m", null, "c", "h", 20, 10, [1], [2]);
        var snapshot = new OffsetsTopicFormat.GroupSnapshot("c", 3, "r", "m", 7, [member]);
        var key = OffsetsTopicFormat.GroupKey("g");
        var value = OffsetsTopicFormat.GroupValue(snapshot);

        Assert.Equal("0002" + "0001" + "67", Convert.ToHexString(key));
        Assert.Equal(
            "0003" + "000163" + "00000003" + "000172" + "00016D" + "0000000000000007" + "00000001"
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
    public void A_consumer_group_is_Kafkas_metadata_partition_metadata_and_assignment_epoch_records()
    {
        var records = OffsetsTopicFormat.ConsumerGroupRecords("g", new OffsetsTopicFormat.ConsumerGroupSnapshot(5, 4, "r", [(TopicId, 3)]), _ => "t");

        Assert.Equal(["0003000167", "0004000167", "0006000167"], records.Select(r => Convert.ToHexString(r.Key)));
        // ConsumerGroupMetadataValue v0 (flexible): epoch, then one tagged field: Tributary's tag 10000 (varint 90 4E),
        // 2 bytes, the assignor as a compact string.
        Assert.Equal("0000" + "00000005" + "01" + "904E" + "02" + "0272", Convert.ToHexString(records[0].Value!));
        // ConsumerGroupPartitionMetadataValue v0: compact array of (topic id, compact name, partitions, racks array, tags).
        Assert.Equal("0000" + "02" + TopicHex + "0274" + "00000003" + "01" + "00" + "00", Convert.ToHexString(records[1].Value!));
        Assert.Equal("0000" + "00000004" + "00", Convert.ToHexString(records[2].Value!));

        var decoded = records.Select(r => OffsetsTopicFormat.Decode(r.Key, r.Value)).ToList();
        Assert.Equal(new OffsetsTopicFormat.ConsumerGroupMetadata(5, "r"), Assert.IsType<OffsetsTopicFormat.ConsumerGroupEntry>(decoded[0]).Metadata);
        Assert.Equal([(TopicId, 3)], Assert.IsType<OffsetsTopicFormat.ConsumerPartitionsEntry>(decoded[1]).PartitionCounts!);
        Assert.Equal(4, Assert.IsType<OffsetsTopicFormat.ConsumerAssignmentEpochEntry>(decoded[2]).AssignmentEpoch);
        Assert.All(OffsetsTopicFormat.ConsumerGroupTombstones("g"), t => Assert.Null(t.Value));
    }

    [Fact]
    public void A_consumer_member_is_Kafkas_member_metadata_current_assignment_and_target_records()
    {
        var metadata = new OffsetsTopicFormat.ConsumerMemberMetadata(InstanceId: null, RackId: "r", ClientId: "c", ClientHost: "h", RebalanceTimeoutMs: 20, SubscribedTopicNames: ["t"], ServerAssignor: null);
        var assignment = new OffsetsTopicFormat.ConsumerMemberAssignment(MemberEpoch: 5, PreviousMemberEpoch: 4, LeftStatic: true, Assigned: [(TopicId, [0, 2])], PendingRevocation: []);

        Assert.Equal("0005" + "000167" + "00016D", Convert.ToHexString(OffsetsTopicFormat.ConsumerMemberKey("g", "m")));
        Assert.Equal("0008" + "000167" + "00016D", Convert.ToHexString(OffsetsTopicFormat.ConsumerAssignmentKey("g", "m")));
        Assert.Equal("0007" + "000167" + "00016D", Convert.ToHexString(OffsetsTopicFormat.ConsumerTargetKey("g", "m")));
        // ConsumerGroupMemberMetadataValue v0: instance id (null), rack, client id, host, topics, regex (null),
        // rebalance timeout, server assignor (null), no tagged fields.
        Assert.Equal(
            "0000" + "00" + "0272" + "0263" + "0268" + "02" + "0274" + "00" + "00000014" + "00" + "00",
            Convert.ToHexString(OffsetsTopicFormat.ConsumerMemberValue(metadata)));
        // ConsumerGroupCurrentMemberAssignmentValue v0: epochs (-2, as Kafka writes a static member that left, then the
        // epoch it left with), state 0 (stable), assigned, pending, no tagged fields.
        Assert.Equal(
            "0000" + "FFFFFFFE" + "00000005" + "00" + "02" + TopicHex + "03" + "00000000" + "00000002" + "00" + "01" + "00",
            Convert.ToHexString(OffsetsTopicFormat.ConsumerAssignmentValue(assignment)));

        var m = Assert.IsType<OffsetsTopicFormat.ConsumerMemberEntry>(OffsetsTopicFormat.Decode(OffsetsTopicFormat.ConsumerMemberKey("g", "m"), OffsetsTopicFormat.ConsumerMemberValue(metadata)));
        Assert.Equal(("g", "m"), (m.Group, m.MemberId));
        Assert.Equal(((string?)null, "r", "c", "h", 20, (string?)null), (m.Metadata!.InstanceId, m.Metadata.RackId, m.Metadata.ClientId, m.Metadata.ClientHost, m.Metadata.RebalanceTimeoutMs, m.Metadata.ServerAssignor));
        Assert.Equal(["t"], m.Metadata.SubscribedTopicNames);
        var a = Assert.IsType<OffsetsTopicFormat.ConsumerAssignmentEntry>(OffsetsTopicFormat.Decode(OffsetsTopicFormat.ConsumerAssignmentKey("g", "m"), OffsetsTopicFormat.ConsumerAssignmentValue(assignment))).Assignment!;
        Assert.Equal((5, true), (a.MemberEpoch, a.LeftStatic));
        Assert.Equal([0, 2], Assert.Single(a.Assigned).Partitions);
        Assert.Empty(a.PendingRevocation);

        var targetValue = OffsetsTopicFormat.ConsumerTargetValue([(TopicId, [1])]);
        Assert.Equal("0000" + "02" + TopicHex + "02" + "00000001" + "00" + "00", Convert.ToHexString(targetValue));
        var t = Assert.IsType<OffsetsTopicFormat.ConsumerTargetEntry>(OffsetsTopicFormat.Decode(OffsetsTopicFormat.ConsumerTargetKey("g", "m"), targetValue));
        Assert.Equal([1], Assert.Single(t.Partitions!).Partitions);
        Assert.Equal(new OffsetsTopicFormat.ConsumerTargetEntry("g", "m", null), OffsetsTopicFormat.Decode(OffsetsTopicFormat.ConsumerTargetKey("g", "m"), null));
    }

    [Fact]
    public void A_record_declaring_more_elements_than_it_holds_is_refused()
    {
        // A target claiming a million topics in a few bytes: an error, not a million-entry allocation.
        var corrupt = Convert.FromHexString("0000" + "BF843D");
        Assert.Throws<ProtocolException>(() => OffsetsTopicFormat.Decode(OffsetsTopicFormat.ConsumerTargetKey("g", "m"), corrupt));
    }

    [Fact]
    public void Records_of_other_types_are_skipped_and_unknown_value_versions_refused()
    {
        // Type 9 is a share group's (ShareGroupMetadataKey): not a record Tributary keeps.
        Assert.Null(OffsetsTopicFormat.Decode(Convert.FromHexString("000B000167"), null));
        Assert.Throws<ProtocolException>(() => OffsetsTopicFormat.Decode(OffsetsTopicFormat.GroupKey("g"), Convert.FromHexString("0005")));
    }

    [Fact]
    public void Live_records_keep_the_last_record_per_key_and_leave_out_tombstones()
    {
        var live = OffsetsTopicFormat.LiveRecords(
            [
                new OffsetsTopicFormat.OffsetEntry("g", "t", 0, new CommittedOffset(1, -1, "", 10)),
                new OffsetsTopicFormat.OffsetEntry("g", "t", 1, new CommittedOffset(2, -1, "", 10)),
                new OffsetsTopicFormat.OffsetEntry("g", "t", 0, new CommittedOffset(3, -1, "", 20)),
                new OffsetsTopicFormat.OffsetEntry("g", "t", 1, null),
            ],
            _ => "");

        var (key, value) = Assert.Single(live);
        Assert.Equal(new OffsetsTopicFormat.OffsetEntry("g", "t", 0, new CommittedOffset(3, -1, "", 20)), OffsetsTopicFormat.Decode(key, value));
    }
}
