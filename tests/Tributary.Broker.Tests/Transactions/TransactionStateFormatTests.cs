using Tributary.Broker.Groups;
using Tributary.Broker.Transactions;

namespace Tributary.Broker.Tests.Transactions;

/// <summary>The __transaction_state layout is on disk: these bytes are fixed forever.</summary>
public sealed class TransactionStateFormatTests
{
    [Fact]
    public void Key_and_value_bytes_are_fixed()
    {
        var t = new TransactionMetadata("t") { ProducerId = 7, ProducerEpoch = 2, TimeoutMs = 1000, State = TransactionState.Ongoing, StartTimeMs = 5, LastUpdateMs = 6 };
        t.Partitions.Add(("a", 1));
        t.Groups.Add("g");
        t.PendingOffsets[("g", "a", 1)] = new OffsetCommitEntry("a", 1, 9, -1, null);

        Assert.Equal("0000000174", Convert.ToHexString(TransactionStateFormat.Key("t")));
        Assert.Equal(
            "0000" + "0000000000000007" + "0002" + "000003E8" + "01" + "0000000000000005" + "0000000000000006"
            + "00000001" + "000161" + "00000001"
            + "00000001" + "000167"
            + "00000001" + "000167" + "000161" + "00000001" + "0000000000000009" + "FFFFFFFF" + "FFFF",
            Convert.ToHexString(TransactionStateFormat.Value(t)));

        var (id, decoded) = TransactionStateFormat.Decode(TransactionStateFormat.Key("t"), TransactionStateFormat.Value(t))!.Value;
        Assert.Equal("t", id);
        Assert.Equal((7L, (short)2, 1000, TransactionState.Ongoing, 5L), (decoded!.ProducerId, decoded.ProducerEpoch, decoded.TimeoutMs, decoded.State, decoded.StartTimeMs));
        Assert.Equal([("a", 1)], decoded.Partitions);
        Assert.Equal(9, decoded.PendingOffsets[("g", "a", 1)].Offset);
    }
}
