using System.Buffers.Binary;
using System.Text;
using Tributary.Protocol.CoordinatorRecords;

namespace Tributary.Protocol.Tests;

/// <summary>
/// What the codec takes from Apache Kafka 4.2.0's schemas beyond the per-message round trips: reserved API keys,
/// unstable latest versions, the Produce versions served below the schema's floor, and the framing of the
/// coordinator records that make up the internal topics, checked against bytes built by hand from Kafka's layout.
/// </summary>
public sealed class Kafka42SchemaTests
{
    [Theory]
    [InlineData(ApiKey.LeaderAndIsr)]
    [InlineData(ApiKey.StopReplica)]
    [InlineData(ApiKey.UpdateMetadata)]
    [InlineData(ApiKey.ControlledShutdown)]
    public void RemovedApisKeepTheirKeyButHaveNoVersions(ApiKey key)
    {
        Assert.InRange((short)key, 4, 7);
        Assert.Null(KafkaApis.Find((short)key));
    }

    [Fact]
    public void NewApisOf42AreDescribed()
    {
        Assert.Equal(92, (short)ApiKey.DeleteShareGroupOffsets);
        Assert.Equal(74, (short)ApiKey.ListConfigResources);
        var shareFetch = KafkaApis.Find((short)ApiKey.ShareFetch)!;
        Assert.Equal((1, 2), (shareFetch.LowestVersion, shareFetch.HighestVersion));
    }

    [Fact]
    public void UnstableLatestVersionIsNotStable()
    {
        var initProducerId = KafkaApis.Find((short)ApiKey.InitProducerId)!;
        Assert.Equal(6, initProducerId.HighestVersion);
        Assert.Equal(5, initProducerId.HighestStableVersion);
        Assert.Equal(5, Messages.InitProducerIdRequest.HighestStableVersion);

        var produce = KafkaApis.Find((short)ApiKey.Produce)!;
        Assert.Equal(produce.HighestVersion, produce.HighestStableVersion);
    }

    [Fact]
    public void ProduceIsDefinedFromVersion0AsKafkaStillAdvertisesIt()
    {
        Assert.Equal(0, Messages.ProduceRequest.LowestSupportedVersion);
        Assert.Equal(13, Messages.ProduceRequest.HighestSupportedVersion);

        // Produce v2 as Kafka 3.x clients send it: acks, timeout, then topics (no transactional id before v3).
        var frame = new List<byte>();
        frame.AddRange([0xff, 0xff]); // acks -1
        frame.AddRange([0, 0, 0x75, 0x30]); // timeout 30000
        frame.AddRange([0, 0, 0, 1]); // one topic
        frame.AddRange([0, 1, (byte)'t']);
        frame.AddRange([0, 0, 0, 1]); // one partition
        frame.AddRange([0, 0, 0, 3]); // index 3
        frame.AddRange([0xff, 0xff, 0xff, 0xff]); // null records

        var request = RandomMessages.ReadAll<Messages.ProduceRequest>(frame.ToArray(), 2);

        Assert.Equal(-1, request.Acks);
        Assert.Equal(30000, request.TimeoutMs);
        Assert.Equal("t", request.TopicData.Single().Name);
        Assert.Equal(3, request.TopicData.Single().PartitionData.Single().Index);
        Assert.Equal(frame.ToArray(), RandomMessages.Encode(request, 2));
    }

    [Fact]
    public void OffsetCommitKeyIsTheRecordTypeThenGroupTopicAndPartition()
    {
        var key = new OffsetCommitKey { Group = "g", Topic = "orders", Partition = 7 };

        var bytes = CoordinatorRecordSerde.SerializeKey(key);

        byte[] expected = [0, 1, 0, 1, (byte)'g', 0, 6, .. "orders"u8, 0, 0, 0, 7];
        Assert.Equal(expected, bytes);
        Assert.Equal(1, CoordinatorRecordSerde.ReadRecordType(bytes));
        var back = CoordinatorRecordSerde.DeserializeKey<OffsetCommitKey>(bytes);
        Assert.Equal(("g", "orders", 7), (back.Group, back.Topic, back.Partition));
    }

    [Fact]
    public void OffsetCommitValueVersion3IsKafkasLayout()
    {
        var value = new OffsetCommitValue { Offset = 42, LeaderEpoch = 5, Metadata = "m", CommitTimestamp = 1_700_000_000_000 };

        var bytes = CoordinatorRecordSerde.SerializeValue(value, 3);

        var expected = new byte[2 + 8 + 4 + 3 + 8];
        BinaryPrimitives.WriteInt16BigEndian(expected, 3);
        BinaryPrimitives.WriteInt64BigEndian(expected.AsSpan(2), 42);
        BinaryPrimitives.WriteInt32BigEndian(expected.AsSpan(10), 5);
        BinaryPrimitives.WriteInt16BigEndian(expected.AsSpan(14), 1);
        expected[16] = (byte)'m';
        BinaryPrimitives.WriteInt64BigEndian(expected.AsSpan(17), 1_700_000_000_000);
        Assert.Equal(expected, bytes);

        var back = CoordinatorRecordSerde.DeserializeValue<OffsetCommitValue>(bytes, out var version);
        Assert.Equal(3, version);
        Assert.Equal((42L, 5, "m", 1_700_000_000_000L), (back.Offset, back.LeaderEpoch, back.Metadata, back.CommitTimestamp));
    }

    [Fact]
    public void OffsetCommitValueVersion4CarriesTheTopicIdAsATaggedField()
    {
        var topicId = Guid.NewGuid();
        var value = new OffsetCommitValue { Offset = 1, Metadata = "", CommitTimestamp = 2, TopicId = topicId };

        var bytes = CoordinatorRecordSerde.SerializeValue(value, 4);

        // version, offset, leader epoch, compact "" (length + 1 = 1), timestamp, then one tagged field: tag 0, 16 bytes.
        Assert.Equal(2 + 8 + 4 + 1 + 8 + 1 + 1 + 1 + 16, bytes.Length);
        Assert.Equal([1, 0, 16], bytes[23..26]);
        Assert.Equal(topicId, CoordinatorRecordSerde.DeserializeValue<OffsetCommitValue>(bytes, out _).TopicId);
    }

    [Fact]
    public void TransactionLogRecordsAndShareSnapshotsHaveTheirCoordinatorsRecordTypes()
    {
        Assert.Equal(0, TransactionLogKey.RecordType);
        Assert.Equal(0, ShareSnapshotKey.RecordType);
        Assert.Equal(1, ShareUpdateKey.RecordType);
        Assert.Equal(2, GroupMetadataKey.RecordType);
        Assert.Equal(3, ConsumerGroupMetadataKey.RecordType);
        var key = CoordinatorRecordSerde.SerializeKey(new TransactionLogKey { TransactionalId = "tx" });
        Assert.Equal([0, 0, 0, 2, (byte)'t', (byte)'x'], key);
    }

    [Fact]
    public void ValueAtAVersionItsSchemaDoesNotDefineIsRefused()
    {
        byte[] bytes = [0, 99, 0, 0];
        Assert.Throws<ProtocolException>(() => CoordinatorRecordSerde.DeserializeValue<OffsetCommitValue>(bytes, out _));
        Assert.Throws<ProtocolException>(() => CoordinatorRecordSerde.DeserializeKey<OffsetCommitKey>(Encoding.ASCII.GetBytes("x")));
        Assert.Throws<ProtocolException>(() => CoordinatorRecordSerde.DeserializeKey<GroupMetadataKey>(CoordinatorRecordSerde.SerializeKey(new OffsetCommitKey { Group = "g", Topic = "t" })));
    }
}
