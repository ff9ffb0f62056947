using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;
using Tributary.TestSupport;
using ErrorCode = Tributary.Protocol.ErrorCode;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// Share-group membership follows the group coordinator (the leader of <c>__consumer_offsets</c>), in an embedded
/// cluster of 3 brokers on a real etcd of 3 members: other brokers answer NOT_COORDINATOR, FindCoordinator key type 0
/// names the coordinator, and when its broker is killed the new leader loads the members from its replica and a
/// librdkafka share consumer goes on consuming. The offset APIs and DeleteGroups act on the group coordinator and
/// the share coordinator's state wherever the share partition's leader is: NON_EMPTY_GROUP while members are
/// present, a reset seen by the data partition's leader, deleted state and group.
/// </summary>
public sealed class ShareGroupCoordinatorFailoverTests
{
    private const string Topic = "tasks";
    private const string Group = "crew";
    private const string OffsetsTopic = "__consumer_offsets";
    private static readonly TimeSpan WaitMax = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Membership_moves_with_the_group_coordinator_when_its_broker_is_killed()
    {
        await using var cluster = await TributaryCluster.StartAsync(brokers: 3);
        await CreateTopicAsync(cluster, [.. cluster.Brokers.Keys]);
        var topicId = cluster.Brokers.Values.First().Core.Metadata.Find(Topic)!.Id;
        var coordinator = await FindCoordinatorAsync(cluster, cluster.Brokers.Keys.First());
        Assert.Equal(cluster.LeaderOf(OffsetsTopic, GroupPartition(cluster)), coordinator);

        // Every broker names the same coordinator; another answers NOT_COORDINATOR to the share-group APIs.
        foreach (var id in cluster.Brokers.Keys)
        {
            Assert.Equal(coordinator, await FindCoordinatorAsync(cluster, id));
        }

        var other = cluster.Brokers.Keys.First(id => id != coordinator);
        await using (var client = await KafkaWireClient.ConnectAsync(cluster.Broker(other).BootstrapServers))
        {
            Assert.Equal((short)ErrorCode.NotCoordinator, (await HeartbeatAsync(client, "m1", 0)).ErrorCode);
            var described = await DescribeAsync(client);
            Assert.Equal((short)ErrorCode.NotCoordinator, described.Groups.Single().ErrorCode);
        }

        int epoch;
        await using (var client = await KafkaWireClient.ConnectAsync(cluster.Broker(coordinator).BootstrapServers))
        {
            var joined = await HeartbeatAsync(client, "m1", 0);
            Assert.Equal(0, joined.ErrorCode);
            epoch = joined.MemberEpoch;
            Assert.True(epoch > 0);
            Assert.Equal([(topicId, 0)], joined.Assignment!.TopicPartitions.SelectMany(t => t.Partitions.Select(p => (t.TopicId, p))));
        }

        await cluster.KillBrokerAsync(coordinator);
        var survivor = cluster.Brokers.Keys.First();
        await cluster.WaitAsync(() => cluster.LeaderOf(OffsetsTopic, GroupPartition(cluster), survivor) is var l && l > 0 && l != coordinator
            && cluster.Broker(l).Core.Groups.CoordinatorErrorFor(Group) == ErrorCode.None);
        var moved = cluster.LeaderOf(OffsetsTopic, GroupPartition(cluster), survivor);
        Assert.Equal(moved, await FindCoordinatorAsync(cluster, survivor));

        // The new coordinator loaded the member with its epoch and assignment: it heartbeats on without rejoining.
        await using (var client = await KafkaWireClient.ConnectAsync(cluster.Broker(moved).BootstrapServers))
        {
            var member = (await DescribeAsync(client)).Groups.Single();
            Assert.Equal(0, member.ErrorCode);
            Assert.Equal(("m1", epoch), (member.Members.Single().MemberId, member.Members.Single().MemberEpoch));
            var heartbeat = await HeartbeatAsync(client, "m1", epoch);
            Assert.Equal((0, epoch), (heartbeat.ErrorCode, heartbeat.MemberEpoch));
        }

        // The broker that does not coordinate any more is not the one asked: the third broker refuses.
        var third = cluster.Brokers.Keys.First(id => id != moved);
        await using (var client = await KafkaWireClient.ConnectAsync(cluster.Broker(third).BootstrapServers))
        {
            Assert.Equal((short)ErrorCode.NotCoordinator, (await HeartbeatAsync(client, "m1", epoch)).ErrorCode);
        }
    }

    [Fact]
    public async Task A_librdkafka_share_consumer_keeps_consuming_after_the_group_coordinators_broker_is_killed()
    {
        await using var cluster = await TributaryCluster.StartAsync(brokers: 3);
        var coordinator = await FindCoordinatorAsync(cluster, cluster.Brokers.Keys.First());

        // The data partition is led elsewhere, so that only the group coordinator moves; the share coordinator is
        // ready before the consumer starts.
        var dataLeader = cluster.Brokers.Keys.First(id => id != coordinator);
        var core = cluster.Broker(dataLeader).Core;
        await cluster.WaitAsync(() => core.CoordinatorNode("__share_group_state", "", 3, new Dictionary<string, string> { ["min.insync.replicas"] = "2" }).Error == ErrorCode.None);
        var statePartitions = core.CoordinatorPartitionCount("__share_group_state");
        await cluster.WaitAsync(() => Enumerable.Range(0, statePartitions).All(p =>
            cluster.Brokers.Values.All(b => b.Core.Replicas!.StateOf("__share_group_state", p) is { Isr.Length: 3, Leader: > 0 })
            && cluster.Broker(cluster.LeaderOf("__share_group_state", p)).Core.ShareCoordinator.CoordinatorErrorOf(p) == ErrorCode.None));
        await CreateTopicAsync(cluster, [dataLeader, .. cluster.Brokers.Keys.Where(id => id != dataLeader)]);
        SetEarliest(cluster);
        await ProduceAsync(cluster, 0, 10);

        var received = new HashSet<string>();
        using var consumer = new ShareConsumer(cluster.BootstrapServers, Group, Topic);
        ConsumeUntil(consumer, received, 10);
        Assert.Equal(Values(0, 10), received.Order(StringComparer.Ordinal));

        await cluster.KillBrokerAsync(coordinator);
        var survivor = cluster.Brokers.Keys.First();
        await cluster.WaitAsync(() => cluster.LeaderOf(OffsetsTopic, GroupPartition(cluster), survivor) is var l && l > 0 && l != coordinator
            && cluster.Broker(l).Core.Groups.CoordinatorErrorFor(Group) == ErrorCode.None);
        var moved = cluster.LeaderOf(OffsetsTopic, GroupPartition(cluster), survivor);
        await ProduceAsync(cluster, 10, 10);
        ConsumeUntil(consumer, received, 20);
        Assert.Equal(Values(0, 20), received.Order(StringComparer.Ordinal));

        // A partition added now reaches the consumer only through its heartbeats to the new coordinator, which
        // assigns it (the loaded group's subscription no longer matches the topic).
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.Broker(survivor).BootstrapServers }).Build())
        {
            await admin.CreatePartitionsAsync([new PartitionsSpecification { Topic = Topic, IncreaseTo = 2 }]);
        }

        await cluster.WaitAsync(() => cluster.Brokers.Values.All(b => b.Core.Replicas!.StateOf(Topic, 1) is { Leader: > 0 }));
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = cluster.Broker(survivor).BootstrapServers, Acks = Acks.All }).Build())
        {
            for (var i = 20; i < 25; i++)
            {
                await producer.ProduceAsync(new TopicPartition(Topic, 1), new Message<string, string> { Key = "k", Value = $"value {i}" });
            }
        }

        ConsumeUntil(consumer, received, 25);
        Assert.Equal(Values(0, 25), received.Order(StringComparer.Ordinal));
        var description = cluster.Broker(moved).Core.ShareGroups.Describe(Group);
        Assert.NotNull(description);
        Assert.Equal([0, 1], description.Members.Single().Assignment.SelectMany(a => a.Partitions).Order());
    }

    [Fact]
    public async Task Offsets_are_altered_and_deleted_where_the_state_lives_and_the_group_only_when_empty()
    {
        await using var cluster = await TributaryCluster.StartAsync(brokers: 3);
        var coordinator = await FindCoordinatorAsync(cluster, cluster.Brokers.Keys.First());
        var dataLeader = cluster.Brokers.Keys.First(id => id != coordinator);
        await CreateTopicAsync(cluster, [dataLeader, .. cluster.Brokers.Keys.Where(id => id != dataLeader)]);
        SetEarliest(cluster);
        await ProduceAsync(cluster, 0, 6);
        var topicId = cluster.Broker(dataLeader).Core.Metadata.Find(Topic)!.Id;

        await using var group = await KafkaWireClient.ConnectAsync(cluster.Broker(coordinator).BootstrapServers);
        var joined = await HeartbeatAsync(group, "m1", 0);
        Assert.Equal(0, joined.ErrorCode);

        // The member consumes on the data partition's leader: 0-3 accepted, then its share session closes.
        await using (var data = await KafkaWireClient.ConnectAsync(cluster.Broker(dataLeader).BootstrapServers))
        {
            var (first, _) = await FetchFirstAsync(data, topicId, "m1");
            Assert.Equal(0L, first);
            var acked = await AcknowledgeAsync(data, topicId, "m1", -1, 0, 3);
            Assert.Equal(0, acked.Responses.Single().Partitions.Single().ErrorCode);
        }

        Assert.Equal(4L, await StartOffsetAsync(cluster, coordinator));

        // With a member: NON_EMPTY_GROUP, and the state stays. Another broker is not the coordinator.
        Assert.Equal((short)ErrorCode.NonEmptyGroup, (await AlterAsync(group, 1)).ErrorCode);
        Assert.Equal((short)ErrorCode.NonEmptyGroup, (await DeleteOffsetsAsync(group)).ErrorCode);
        Assert.Equal((short)ErrorCode.NonEmptyGroup, (await DeleteGroupAsync(group)).Results.Single().ErrorCode);
        await using (var other = await KafkaWireClient.ConnectAsync(cluster.Broker(dataLeader).BootstrapServers))
        {
            Assert.Equal((short)ErrorCode.NotCoordinator, (await AlterAsync(other, 1)).ErrorCode);
        }

        Assert.Equal(4L, await StartOffsetAsync(cluster, coordinator));

        // Once the member left, the reset reaches the share coordinator and the data partition's leader delivers
        // from the new start offset.
        Assert.Equal(0, (await HeartbeatAsync(group, "m1", -1)).ErrorCode);
        var altered = await AlterAsync(group, 1);
        Assert.Equal(0, altered.ErrorCode);
        Assert.Equal(0, altered.Responses.Single().Partitions.Single().ErrorCode);
        Assert.Equal(1L, await StartOffsetAsync(cluster, dataLeader));
        await using (var data = await KafkaWireClient.ConnectAsync(cluster.Broker(dataLeader).BootstrapServers))
        {
            var (first, _) = await FetchFirstAsync(data, topicId, "m2");
            Assert.Equal(1L, first);
            await CloseSessionAsync(data, topicId, "m2");
        }

        // DeleteShareGroupOffsets deletes the state: the share coordinator has none for the partition.
        var deleted = await DeleteOffsetsAsync(group);
        Assert.Equal((0, (short)0), (deleted.ErrorCode, deleted.Responses.Single().ErrorCode));
        Assert.Equal(-1L, await StartOffsetAsync(cluster, coordinator));

        // A new member's fetch starts the state again (share.auto.offset.reset), and DeleteGroups, once it left,
        // deletes that state with the group: no broker knows the group any more.
        Assert.Equal(0, (await HeartbeatAsync(group, "m3", 0)).ErrorCode);
        await using (var data = await KafkaWireClient.ConnectAsync(cluster.Broker(dataLeader).BootstrapServers))
        {
            var (first, _) = await FetchFirstAsync(data, topicId, "m3");
            Assert.Equal(0L, first);
            await CloseSessionAsync(data, topicId, "m3");
        }

        Assert.Equal(0L, await StartOffsetAsync(cluster, coordinator));
        Assert.Equal(0, (await HeartbeatAsync(group, "m3", -1)).ErrorCode);
        Assert.Equal(0, (await DeleteGroupAsync(group)).Results.Single().ErrorCode);
        foreach (var id in cluster.Brokers.Keys)
        {
            Assert.Null(await StartOffsetAsync(cluster, id));
        }

        Assert.Equal((short)ErrorCode.GroupIdNotFound, (await DeleteGroupAsync(group)).Results.Single().ErrorCode);
        Assert.Null(cluster.Broker(coordinator).Core.ShareGroups.Describe(Group));
    }

    private static async Task CreateTopicAsync(TributaryCluster cluster, List<int> replicas)
    {
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = Topic, NumPartitions = 1, ReplicationFactor = -1, ReplicasAssignments = new() { [0] = replicas } }]);
        }

        await cluster.WaitAsync(() => cluster.Brokers.Values.All(b => b.Core.Replicas!.StateOf(Topic, 0) is { Isr.Length: 3, Leader: > 0 }));
    }

    private static void SetEarliest(TributaryCluster cluster)
    {
        foreach (var broker in cluster.Brokers.Values)
        {
            broker.Core.Metadata.SetGroupConfigs(Group, new Dictionary<string, string> { ["share.auto.offset.reset"] = "earliest" });
        }
    }

    private static async Task ProduceAsync(TributaryCluster cluster, int from, int count)
    {
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, Acks = Acks.All, EnableIdempotence = true, LingerMs = 0 }).Build();
        await EtcdReplicationTests.ProduceAsync(producer, from, count, Topic);
    }

    private static IEnumerable<string> Values(int from, int count) => Enumerable.Range(from, count).Select(i => $"value {i}").Order(StringComparer.Ordinal);

    // Polls and accepts every record until <paramref name="total"/> distinct values were received.
    private static void ConsumeUntil(ShareConsumer consumer, HashSet<string> received, int total)
    {
        var deadline = DateTime.UtcNow + WaitMax;
        while (received.Count < total)
        {
            Assert.True(DateTime.UtcNow < deadline, $"received {received.Count} of {total} records");
            foreach (var record in consumer.Poll(500))
            {
                received.Add(record.Value);
                consumer.Acknowledge(record, ShareConsumer.Accept);
            }
        }

        consumer.CommitSync(10_000);
    }

    // FindCoordinator key type 0 for the share group, asked of one broker until the coordinator exists.
    // The partition of __consumer_offsets that holds the group.
    private static int GroupPartition(TributaryCluster cluster) => cluster.Broker(cluster.Brokers.Keys.First()).Core.CoordinatorPartitionFor(OffsetsTopic, Group);

    private static async Task<int> FindCoordinatorAsync(TributaryCluster cluster, int askedId)
    {
        await using var client = await KafkaWireClient.ConnectAsync(cluster.Broker(askedId).BootstrapServers);
        var deadline = DateTime.UtcNow + WaitMax;
        while (true)
        {
            var found = await client.SendAsync<FindCoordinatorRequest, FindCoordinatorResponse>(ApiKey.FindCoordinator, 6, new FindCoordinatorRequest { KeyType = 0, CoordinatorKeys = [Group] });
            var answer = found.Coordinators.Single();
            if (answer.ErrorCode == 0 && cluster.Broker(answer.NodeId).Core.Groups.CoordinatorErrorFor(Group) == ErrorCode.None)
            {
                return answer.NodeId;
            }

            Assert.True(DateTime.UtcNow < deadline, $"no group coordinator: {(ErrorCode)answer.ErrorCode}");
            await Task.Delay(200);
        }
    }

    private static Task<ShareGroupHeartbeatResponse> HeartbeatAsync(KafkaWireClient client, string memberId, int epoch) =>
        client.SendAsync<ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse>(ApiKey.ShareGroupHeartbeat, 1, new ShareGroupHeartbeatRequest
        {
            GroupId = Group,
            MemberId = memberId,
            MemberEpoch = epoch,
            SubscribedTopicNames = epoch == 0 ? [Topic] : null,
        });

    private static Task<ShareGroupDescribeResponse> DescribeAsync(KafkaWireClient client) =>
        client.SendAsync<ShareGroupDescribeRequest, ShareGroupDescribeResponse>(ApiKey.ShareGroupDescribe, 1, new ShareGroupDescribeRequest { GroupIds = [Group] });

    private static Task<AlterShareGroupOffsetsResponse> AlterAsync(KafkaWireClient client, long startOffset) =>
        client.SendAsync<AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse>(ApiKey.AlterShareGroupOffsets, 0, new AlterShareGroupOffsetsRequest
        {
            GroupId = Group,
            Topics = [new() { TopicName = Topic, Partitions = [new() { PartitionIndex = 0, StartOffset = startOffset }] }],
        });

    private static Task<DeleteShareGroupOffsetsResponse> DeleteOffsetsAsync(KafkaWireClient client) =>
        client.SendAsync<DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse>(ApiKey.DeleteShareGroupOffsets, 0, new DeleteShareGroupOffsetsRequest
        {
            GroupId = Group,
            Topics = [new() { TopicName = Topic }],
        });

    private static Task<DeleteGroupsResponse> DeleteGroupAsync(KafkaWireClient client) =>
        client.SendAsync<DeleteGroupsRequest, DeleteGroupsResponse>(ApiKey.DeleteGroups, 2, new DeleteGroupsRequest { GroupsNames = [Group] });

    // The share coordinator's start offset of the partition (-1 without state), described by one broker; null when
    // the broker answers GROUP_ID_NOT_FOUND (neither the group nor any state of it exists).
    private static async Task<long?> StartOffsetAsync(TributaryCluster cluster, int askedId)
    {
        await using var client = await KafkaWireClient.ConnectAsync(cluster.Broker(askedId).BootstrapServers);
        var described = await client.SendAsync<DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse>(ApiKey.DescribeShareGroupOffsets, 1, new DescribeShareGroupOffsetsRequest
        {
            Groups = [new() { GroupId = Group, Topics = [new() { TopicName = Topic, Partitions = [0] }] }],
        });
        if (described.Groups.Single().ErrorCode == (short)ErrorCode.GroupIdNotFound)
        {
            return null;
        }

        var partition = described.Groups.Single().Topics.Single().Partitions.Single();
        Assert.Equal(0, partition.ErrorCode);
        return partition.StartOffset;
    }

    // Opens a share session and fetches until records are acquired (the share coordinator may still be loading);
    // returns the first acquired offset and the next session epoch.
    private static async Task<(long FirstOffset, int NextEpoch)> FetchFirstAsync(KafkaWireClient client, Guid topicId, string memberId)
    {
        var deadline = DateTime.UtcNow + WaitMax;
        for (var epoch = 0; DateTime.UtcNow < deadline; epoch++)
        {
            var response = await client.SendAsync<ShareFetchRequest, ShareFetchResponse>(ApiKey.ShareFetch, 1, new ShareFetchRequest
            {
                GroupId = Group,
                MemberId = memberId,
                ShareSessionEpoch = epoch,
                MaxWaitMs = 500,
                MinBytes = 1,
                MaxBytes = 1 << 20,
                MaxRecords = 100,
                BatchSize = 100,
                Topics = epoch == 0 ? [new() { TopicId = topicId, Partitions = [new() { PartitionIndex = 0 }] }] : [],
            });
            Assert.Equal(0, response.ErrorCode);
            var acquired = response.Responses.SelectMany(t => t.Partitions).SelectMany(p => p.AcquiredRecords).ToList();
            if (acquired.Count > 0)
            {
                return (acquired.Min(r => r.FirstOffset), epoch + 1);
            }

            await Task.Delay(200);
        }

        throw new TimeoutException("no records acquired");
    }

    // Accepts offsets first..last and closes the share session (epoch -1), releasing the rest.
    private static Task<ShareAcknowledgeResponse> AcknowledgeAsync(KafkaWireClient client, Guid topicId, string memberId, int epoch, long first, long last) =>
        client.SendAsync<ShareAcknowledgeRequest, ShareAcknowledgeResponse>(ApiKey.ShareAcknowledge, 1, new ShareAcknowledgeRequest
        {
            GroupId = Group,
            MemberId = memberId,
            ShareSessionEpoch = epoch,
            Topics = [new() { TopicId = topicId, Partitions = [new() { PartitionIndex = 0, AcknowledgementBatches = [new() { FirstOffset = first, LastOffset = last, AcknowledgeTypes = [1] }] }] }],
        });

    // Closes the member's share session, releasing what it holds.
    private static async Task CloseSessionAsync(KafkaWireClient client, Guid topicId, string memberId)
    {
        var closed = await client.SendAsync<ShareAcknowledgeRequest, ShareAcknowledgeResponse>(ApiKey.ShareAcknowledge, 1, new ShareAcknowledgeRequest
        {
            GroupId = Group,
            MemberId = memberId,
            ShareSessionEpoch = -1,
            Topics = [new() { TopicId = topicId, Partitions = [new() { PartitionIndex = 0, AcknowledgementBatches = [] }] }],
        });
        Assert.Equal(0, closed.ErrorCode);
    }
}
