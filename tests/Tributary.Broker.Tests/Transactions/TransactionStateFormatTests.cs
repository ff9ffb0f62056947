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

    // Found by fuzz/run.sh (internal target): the timeout timer's wait overflowed and the coordinator, so the broker,
    // could not start.
    [Theory]
    [InlineData(long.MaxValue, int.MaxValue)]
    [InlineData(long.MinValue, int.MinValue)]
    public void A_stored_ongoing_transaction_with_any_start_time_and_timeout_loads(long startTimeMs, int timeoutMs)
    {
        using var broker = new TestBroker(new Config.BrokerConfig(), new ManualTimeProvider()); // the timer never fires
        var t = new TransactionMetadata("t") { ProducerId = 7, ProducerEpoch = 0, TimeoutMs = timeoutMs, State = TransactionState.Ongoing, StartTimeMs = startTimeMs, LastUpdateMs = 0 };
        var builder = new Protocol.Records.RecordBatchBuilder();
        builder.Add(0, TransactionStateFormat.Key("t"), TransactionStateFormat.Value(t));
        broker.Core.OpenInternalLog(TransactionStateStore.TopicName).Log.Append(builder.Build());

        using var coordinator = new TransactionCoordinator(broker.Core, null);

        Assert.Equal(TransactionState.Ongoing, coordinator.Describe("t")!.State);
    }
}
