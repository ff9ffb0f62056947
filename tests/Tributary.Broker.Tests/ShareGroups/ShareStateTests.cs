using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.CoordinatorRecords;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.ShareGroups;

// Broker tier: share-partition state in __share_group_state (Kafka's ShareSnapshot records) survives a restart, so
// nothing acknowledged comes back and everything unacknowledged does; and the share-group offset APIs read and change it.
public sealed class ShareStateTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tributary-share-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task After_a_restart_acknowledged_records_never_come_back_and_unacknowledged_ones_do()
    {
        var time = new ManualTimeProvider();
        using (var kafka = new ShareTestBroker(time, _directory))
        {
            kafka.Produce(0, "a", "b", "c", "d", "e");
            await kafka.FetchAsync("m1", 0);
            Assert.Equal(0, ShareTestBroker.AckError(await kafka.AcknowledgeAsync("m1", 1, (0, 0, 1, AcknowledgeKind.Accept), (0, 3, 3, AcknowledgeKind.Reject), (0, 4, 4, AcknowledgeKind.Release))));

            // Offset 2 is still acquired when the broker stops; 4 was released once.
        }

        using (var kafka = new ShareTestBroker(time, _directory))
        {
            var fetched = await kafka.FetchAsync("m9", 0);
            Assert.Equal([(2L, 2L, (short)2), (4L, 4L, (short)2)], ShareTestBroker.Acquired(fetched));
            Assert.Equal(["c", "e"], ShareTestBroker.Values(fetched));
        }
    }

    [Fact]
    public async Task The_state_is_a_ShareSnapshot_record_keyed_as_Kafka_keys_it()
    {
        using var kafka = new ShareTestBroker(new ManualTimeProvider(), _directory);
        kafka.Produce(0, "a", "b");
        await kafka.FetchAsync("m1", 0);
        await kafka.AcknowledgeAsync("m1", 1, (0, 0, 0, AcknowledgeKind.Accept));

        var log = kafka.Core.FindLog(kafka.Core.Metadata.Find("__share_group_state")!, 0)!;
        var read = log.Read(log.LogStartOffset, new Storage.LogReadOptions(1 << 20));
        Assert.Equal("compact", kafka.Core.Metadata.Find("__share_group_state")!.Configs["cleanup.policy"]);
        ShareSnapshotValue? last = null;
        for (var rest = read.Records; !rest.IsEmpty;)
        {
            var batch = Protocol.Records.RecordBatch.Read(rest);
            rest = rest[batch.Header.TotalSize..];
            foreach (var record in batch.Records)
            {
                var key = CoordinatorRecordSerde.DeserializeKey<ShareSnapshotKey>(record.Key!.Value);
                Assert.Equal((ShareTestBroker.Group, kafka.TopicId, 0), (key.GroupId, key.TopicId, key.Partition));
                last = CoordinatorRecordSerde.DeserializeValue<ShareSnapshotValue>(record.Value!.Value, out var version);
                Assert.Equal(0, version);
            }
        }

        Assert.NotNull(last);
        Assert.Equal(1, last.StartOffset);
        var batchState = Assert.Single(last.StateBatches);
        Assert.Equal((1L, 1L, (sbyte)0, (short)1), (batchState.FirstOffset, batchState.LastOffset, batchState.DeliveryState, batchState.DeliveryCount));
    }

    [Fact]
    public async Task Offsets_are_described_with_their_lag_altered_while_empty_and_deleted()
    {
        using var kafka = new ShareTestBroker(new ManualTimeProvider(), _directory);
        kafka.Produce(0, "a", "b", "c", "d");
        await kafka.FetchAsync("m1", 0);
        await kafka.AcknowledgeAsync("m1", 1, (0, 0, 0, AcknowledgeKind.Accept), (0, 2, 2, AcknowledgeKind.Accept));

        var describe = new DescribeShareGroupOffsetsHandler(kafka.Core);
        var described = await kafka.SendAsync(describe, new DescribeShareGroupOffsetsRequest
        {
            Groups = [new DescribeShareGroupOffsetsRequest.DescribeShareGroupOffsetsRequestGroup { GroupId = ShareTestBroker.Group, Topics = null }],
        }, 1);
        var partition = described.Groups.Single().Topics.Single().Partitions.Single();
        Assert.Equal((1L, 2L), (partition.StartOffset, partition.Lag));

        // A member holds a session: altering needs an empty group.
        await kafka.HeartbeatAsync("m1", 0, ShareTestBroker.Topic);
        var alter = new AlterShareGroupOffsetsHandler(kafka.Core);
        var request = new AlterShareGroupOffsetsRequest
        {
            GroupId = ShareTestBroker.Group,
            Topics = [new AlterShareGroupOffsetsRequest.AlterShareGroupOffsetsRequestTopic { TopicName = ShareTestBroker.Topic, Partitions = [new AlterShareGroupOffsetsRequest.AlterShareGroupOffsetsRequestPartition { PartitionIndex = 0, StartOffset = 3 }] }],
        };
        Assert.Equal((short)ErrorCode.NonEmptyGroup, (await kafka.SendAsync(alter, request, 0)).ErrorCode);
        await kafka.HeartbeatAsync("m1", -1);
        Assert.Equal(0, (await kafka.SendAsync(alter, request, 0)).Responses.Single().Partitions.Single().ErrorCode);
        Assert.Equal([(3L, 3L, (short)1)], ShareTestBroker.Acquired(await kafka.FetchAsync("m2", 0)));

        var delete = new DeleteShareGroupOffsetsHandler(kafka.Core);
        var deleted = await kafka.SendAsync(delete, new DeleteShareGroupOffsetsRequest
        {
            GroupId = ShareTestBroker.Group,
            Topics = [new DeleteShareGroupOffsetsRequest.DeleteShareGroupOffsetsRequestTopic { TopicName = ShareTestBroker.Topic }, new DeleteShareGroupOffsetsRequest.DeleteShareGroupOffsetsRequestTopic { TopicName = "nope" }],
        }, 0);
        Assert.Equal([0, (short)ErrorCode.UnknownTopicOrPartition], deleted.Responses.Select(r => r.ErrorCode));
        Assert.Empty(kafka.Core.ShareGroups.PartitionsOf(ShareTestBroker.Group));
    }
}
