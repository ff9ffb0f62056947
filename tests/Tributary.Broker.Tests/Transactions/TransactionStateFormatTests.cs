using Tributary.Broker.Groups;
using Tributary.Broker.Transactions;

namespace Tributary.Broker.Tests.Transactions;

/// <summary>The __transaction_state records are Kafka's TransactionLogKey/Value: these bytes are fixed.</summary>
public sealed class TransactionStateFormatTests
{
    [Fact]
    public void Records_are_Kafkas_TransactionLogKey_and_TransactionLogValue_v1()
    {
        var t = new TransactionMetadata("t") { ProducerId = 7, ProducerEpoch = 2, TimeoutMs = 1000, State = TransactionState.Ongoing, StartTimeMs = 5, LastUpdateMs = 6 };
        t.Partitions.Add(("a", 1));
        t.Groups.Add("g");
        t.LegacyPendingOffsets[("g", "a", 1)] = new OffsetCommitEntry("a", 1, 9, -1, null);

        Assert.Equal("0000" + "000174", Convert.ToHexString(TransactionStateFormat.Key("t")));
        Assert.Equal(
            "0001" + "0000000000000007" + "0002" + "000003E8" + "01"
            + "02" + "0261" + "02" + "00000001" + "00"           // partitions: topic a, [1]
            + "0000000000000006" + "0000000000000005"           // last update, start
            + "01" + "904E" + "19"                               // one tagged field: Tributary's (10000), 25 bytes
            + "02" + "0267"                                      // groups: g
            + "02" + "0267" + "0261" + "00000001" + "0000000000000009" + "FFFFFFFF" + "00", // pending offset
            Convert.ToHexString(TransactionStateFormat.Value(t)));

        var (id, decoded) = TransactionStateFormat.Decode(TransactionStateFormat.Key("t"), TransactionStateFormat.Value(t))!.Value;
        Assert.Equal("t", id);
        Assert.Equal((7L, (short)2, 1000, TransactionState.Ongoing, 5L, 6L), (decoded!.ProducerId, decoded.ProducerEpoch, decoded.TimeoutMs, decoded.State, decoded.StartTimeMs, decoded.LastUpdateMs));
        Assert.Equal([("a", 1)], decoded.Partitions);
        Assert.Equal(["g"], decoded.Groups);
        Assert.Equal(9, decoded.LegacyPendingOffsets[("g", "a", 1)].Offset);
    }

    [Fact]
    public void An_empty_transaction_has_no_partition_list_and_no_tagged_field()
    {
        var t = new TransactionMetadata("t") { ProducerId = 7, ProducerEpoch = 0, TimeoutMs = 1000, State = TransactionState.Empty, StartTimeMs = -1, LastUpdateMs = 6 };

        Assert.Equal(
            "0001" + "0000000000000007" + "0000" + "000003E8" + "00" + "00" + "0000000000000006" + "FFFFFFFFFFFFFFFF" + "00",
            Convert.ToHexString(TransactionStateFormat.Value(t)));
        var (_, decoded) = TransactionStateFormat.Decode(TransactionStateFormat.Key("t"), TransactionStateFormat.Value(t))!.Value;
        Assert.Empty(decoded!.Partitions);
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
        broker.Core.OpenInternalLog(TransactionStateStore.TopicName, 0).Log.Append(builder.Build());

        using var coordinator = new TransactionCoordinator(broker.Core, null);

        Assert.Equal(TransactionState.Ongoing, coordinator.Describe("t")!.State);
    }
}
