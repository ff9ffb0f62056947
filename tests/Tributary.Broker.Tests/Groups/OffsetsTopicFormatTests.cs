using Tributary.Broker.Groups;

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
    public void Records_of_an_unknown_key_type_or_value_version_are_skipped_not_misread()
    {
        Assert.Null(OffsetsTopicFormat.Decode(Convert.FromHexString("0009000167"), null));
        Assert.Null(OffsetsTopicFormat.Decode(OffsetsTopicFormat.GroupKey("g"), Convert.FromHexString("0005")));
    }
}
