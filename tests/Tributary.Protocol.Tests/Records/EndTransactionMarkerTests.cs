using System.Buffers.Binary;
using Tributary.Protocol.Records;
using Record = Tributary.Protocol.Records.Record;

namespace Tributary.Protocol.Tests.Records;

public sealed class EndTransactionMarkerTests
{
    [Theory]
    [InlineData(ControlRecordType.Commit, 0)]
    [InlineData(ControlRecordType.Abort, 123_456)]
    public void Marker_batch_round_trips_through_validator_and_reader(ControlRecordType type, int coordinatorEpoch)
    {
        var bytes = RecordBatchBuilder.BuildEndTransactionMarker(new EndTransactionMarker(type, coordinatorEpoch), producerId: 4242, producerEpoch: 7, timestamp: 1_700_000_000_000, baseOffset: 99);

        var validation = RecordBatchValidator.Validate(bytes);
        Assert.True(validation.IsValid, validation.ToString());

        var batch = RecordBatch.Read(bytes);
        Assert.True(batch.Header.IsControl);
        Assert.True(batch.Header.IsTransactional);
        Assert.Equal(4242, batch.Header.ProducerId);
        Assert.Equal(7, batch.Header.ProducerEpoch);
        Assert.Equal(99, batch.Header.BaseOffset);
        Assert.Equal(1, batch.Header.RecordCount);
        Assert.Equal(1_700_000_000_000, batch.Header.MaxTimestamp);

        var markers = new List<EndTransactionMarker>();
        foreach (var record in batch.Records)
        {
            markers.Add(EndTransactionMarker.Read(record));
        }

        Assert.Equal([new EndTransactionMarker(type, coordinatorEpoch)], markers);
    }

    [Fact]
    public void Key_and_value_have_kafkas_layout()
    {
        var marker = new EndTransactionMarker(ControlRecordType.Commit, 5);
        Assert.Equal(new byte[] { 0, 0, 0, 1 }, marker.EncodeKey());
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 5 }, marker.EncodeValue());
    }

    private static Record OnlyRecord(byte[]? key, byte[]? value)
    {
        var bytes = new RecordBatchBuilder { IsControl = true, IsTransactional = true }.Add(0, key, value).Build();
        var enumerator = RecordBatch.Read(bytes).Records.GetEnumerator();
        Assert.True(enumerator.MoveNext());
        return enumerator.Current;
    }

    [Fact]
    public void Short_key_is_a_protocol_exception()
    {
        var record = OnlyRecord([0, 0, 0], new EndTransactionMarker(ControlRecordType.Abort, 1).EncodeValue());
        Assert.Contains("key has 3 bytes", Assert.Throws<ProtocolException>(() => EndTransactionMarker.Read(record)).Reason);
    }

    [Fact]
    public void Control_type_that_is_not_a_marker_is_a_protocol_exception()
    {
        var key = new byte[4];
        BinaryPrimitives.WriteInt16BigEndian(key.AsSpan(2), 2); // LEADER_CHANGE in Kafka's numbering
        var record = OnlyRecord(key, new byte[6]);
        Assert.Contains("type 2 is not a transaction marker", Assert.Throws<ProtocolException>(() => EndTransactionMarker.Read(record)).Reason);
    }

    [Fact]
    public void Null_value_is_a_protocol_exception()
    {
        var record = OnlyRecord(new EndTransactionMarker(ControlRecordType.Commit, 1).EncodeKey(), null);
        Assert.Contains("null", Assert.Throws<ProtocolException>(() => EndTransactionMarker.Read(record)).Reason);
    }
}
