using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.CoordinatorRecords;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.ShareGroups;

// Broker tier: share-group membership in __consumer_offsets (Kafka's ShareGroup* records): a restart keeps the group's
// epochs, members, subscriptions and assignments, loaded members expire by their session timeout unless they
// heartbeat, a member that left stays gone, and a deleted group stays deleted.
public sealed class ShareGroupMembershipTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tributary-share-members-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task A_restart_keeps_the_groups_epochs_members_and_assignments()
    {
        var time = new ManualTimeProvider();
        string before;
        int m1Epoch;
        using (var kafka = new ShareTestBroker(time, _directory))
        {
            await kafka.HeartbeatAsync("m1", 0, ShareTestBroker.Topic);
            await kafka.HeartbeatAsync("m2", 0, ShareTestBroker.Topic);
            await kafka.HeartbeatAsync("m3", 0, ShareTestBroker.Topic);
            Assert.Equal(-1, (await kafka.HeartbeatAsync("m3", -1)).MemberEpoch);
            m1Epoch = (await kafka.HeartbeatAsync("m1", 1)).MemberEpoch;
            before = await DescribeAsync(kafka);
            Assert.Contains("epoch 4/4", before, StringComparison.Ordinal);
        }

        using (var kafka = new ShareTestBroker(time, _directory))
        {
            // m3 left before the restart; m1 and m2 are back with their epochs and partitions.
            Assert.Equal(before, await DescribeAsync(kafka));
            var beat = await kafka.HeartbeatAsync("m1", m1Epoch);
            Assert.Equal((0, m1Epoch), (beat.ErrorCode, beat.MemberEpoch));

            // m2 never heartbeats again: it expires group.share.session.timeout.ms (45 s) after the load.
            for (var i = 0; i < 3; i++)
            {
                time.Advance(TimeSpan.FromMilliseconds(15_000));
                beat = await kafka.HeartbeatAsync("m1", beat.MemberEpoch);
                Assert.Equal(0, beat.ErrorCode);
            }

            var after = await DescribeAsync(kafka);
            Assert.Contains("epoch 5/5", after, StringComparison.Ordinal);
            Assert.DoesNotContain("m2", after, StringComparison.Ordinal);
        }

        // The expiry was written too.
        using (var kafka = new ShareTestBroker(time, _directory))
        {
            Assert.Equal(["m1"], (await DescribeGroupAsync(kafka)).Members.Select(m => m.MemberId));
        }
    }

    [Fact]
    public async Task Membership_is_written_as_Kafkas_ShareGroup_records_and_a_deleted_group_stays_deleted()
    {
        var time = new ManualTimeProvider();
        using (var kafka = new ShareTestBroker(time, _directory))
        {
            await kafka.HeartbeatAsync("m1", 0, ShareTestBroker.Topic);
            var records = OffsetsRecords(kafka);
            var metadata = records.Last(r => CoordinatorRecordSerde.ReadRecordType(r.Key) == 11);
            Assert.Equal(ShareTestBroker.Group, CoordinatorRecordSerde.DeserializeKey<ShareGroupMetadataKey>(metadata.Key).GroupId);
            Assert.Equal(1, CoordinatorRecordSerde.DeserializeValue<ShareGroupMetadataValue>(metadata.Value!, out _).Epoch);
            var member = records.Last(r => CoordinatorRecordSerde.ReadRecordType(r.Key) == 10);
            Assert.Equal("m1", CoordinatorRecordSerde.DeserializeKey<ShareGroupMemberMetadataKey>(member.Key).MemberId);
            Assert.Equal([ShareTestBroker.Topic], CoordinatorRecordSerde.DeserializeValue<ShareGroupMemberMetadataValue>(member.Value!, out _).SubscribedTopicNames);
            var current = records.Last(r => CoordinatorRecordSerde.ReadRecordType(r.Key) == 14);
            Assert.Equal(2, CoordinatorRecordSerde.DeserializeValue<ShareGroupCurrentMemberAssignmentValue>(current.Value!, out _).AssignedPartitions.Single().Partitions.Count);

            // ShareGroupStatePartitionMetadata: the topic's partitions assigned so far, whose state DeleteGroups deletes.
            var statePartitions = records.Last(r => CoordinatorRecordSerde.ReadRecordType(r.Key) == 15);
            Assert.Equal(ShareTestBroker.Group, CoordinatorRecordSerde.DeserializeKey<ShareGroupStatePartitionMetadataKey>(statePartitions.Key).GroupId);
            var initialized = CoordinatorRecordSerde.DeserializeValue<ShareGroupStatePartitionMetadataValue>(statePartitions.Value!, out _);
            Assert.Equal([(ShareTestBroker.Topic, 0), (ShareTestBroker.Topic, 1)], initialized.InitializedTopics.SelectMany(t => t.Partitions.Select(p => (t.TopicName, p))));
            Assert.Empty(initialized.InitializingTopics);
            Assert.Empty(initialized.DeletingTopics);

            await kafka.HeartbeatAsync("m1", -1);
            var deleted = await kafka.SendAsync(new DeleteGroupsHandler(kafka.Core), new DeleteGroupsRequest { GroupsNames = [ShareTestBroker.Group] }, 2);
            Assert.Equal(0, deleted.Results.Single().ErrorCode);

            // Leaving tombstones the member's records (types 14, 13, 10), deleting the group its own (15, 12, 11).
            var tombstones = OffsetsRecords(kafka).Where(r => r.Value is null).Select(r => CoordinatorRecordSerde.ReadRecordType(r.Key)).ToList();
            Assert.Equal([14, 13, 10, 15, 12, 11], tombstones.Select(t => (int)t));
        }

        using (var kafka = new ShareTestBroker(time, _directory))
        {
            Assert.Equal((short)ErrorCode.GroupIdNotFound, (await DescribeGroupAsync(kafka)).ErrorCode);
            var listed = await kafka.SendAsync(new ListGroupsHandler(kafka.Core), new ListGroupsRequest { TypesFilter = ["share"] }, 5);
            Assert.Empty(listed.Groups);
        }
    }

    private static async Task<ShareGroupDescribeResponse.DescribedGroup> DescribeGroupAsync(ShareTestBroker kafka) =>
        (await kafka.SendAsync(kafka.Describe, new ShareGroupDescribeRequest { GroupIds = [ShareTestBroker.Group] }, 1)).Groups.Single();

    // The group as a user sees it: state, epochs, and each member's epoch, subscription and assigned partitions.
    private static async Task<string> DescribeAsync(ShareTestBroker kafka)
    {
        var group = await DescribeGroupAsync(kafka);
        Assert.Equal(0, group.ErrorCode);
        return $"{group.GroupState} epoch {group.GroupEpoch}/{group.AssignmentEpoch}: " + string.Join("; ", group.Members.OrderBy(m => m.MemberId, StringComparer.Ordinal).Select(m =>
            $"{m.MemberId} epoch {m.MemberEpoch} subscribes {string.Join(',', m.SubscribedTopicNames)} holds {string.Join(',', m.Assignment.TopicPartitions.SelectMany(t => t.Partitions.Order().Select(p => $"{t.TopicName}-{p}")))}"));
    }

    // Every record of __consumer_offsets, in offset order.
    private static List<(byte[] Key, byte[]? Value)> OffsetsRecords(ShareTestBroker kafka)
    {
        var log = kafka.Core.FindLog(kafka.Core.Metadata.Find("__consumer_offsets")!, kafka.Core.Groups.CoordinatorPartitionFor(ShareTestBroker.Group))!;
        var records = new List<(byte[] Key, byte[]? Value)>();
        var read = log.Read(log.LogStartOffset, new Storage.LogReadOptions(1 << 20));
        for (var rest = read.Records; !rest.IsEmpty;)
        {
            var batch = Protocol.Records.RecordBatch.Read(rest);
            rest = rest[batch.Header.TotalSize..];
            foreach (var record in batch.Records)
            {
                records.Add((record.Key!.Value.ToArray(), record.Value?.ToArray()));
            }
        }

        return records;
    }
}
