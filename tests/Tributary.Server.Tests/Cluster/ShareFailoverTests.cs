using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;
using Tributary.Tests.Shared.ShareGroups;
using ErrorCode = Tributary.Protocol.ErrorCode;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// Share partitions move with the data partition's leadership (KIP-932), in an embedded cluster of 3 brokers on a
/// real etcd of 3 members: the share consumer's state is written to the share coordinator on the leader of the
/// replicated <c>__share_group_state</c>; when the data partition's leader is killed, the new leader loads it, so the
/// records acknowledged or rejected are never delivered again and those held are, with delivery count 2: with the
/// share coordinator on another broker (reached over the wire, it stays), and on the killed broker itself (the new
/// coordinator loads the state from its replica). A broker that does not lead the partition answers
/// NOT_LEADER_OR_FOLLOWER. The failover cases run with one partition of <c>__share_group_state</c>
/// (share.coordinator.state.topic.num.partitions=1, as a cluster whose topic was created with one keeps it), so the test
/// can place the share coordinator on the data partition's leader or away from it. With Kafka's 50 state partitions,
/// every broker describes the share coordinator's start offset (DescribeShareGroupOffsets) and finds it (FindCoordinator
/// key type 2: the leader of the key's state partition). Raw protocol: the consumer's requests go to the leader as a
/// share consumer's would.
/// </summary>
public sealed class ShareFailoverTests
{
    private const string Topic = "jobs";
    private const string Group = "workers";
    private const string StateTopic = "__share_group_state";
    private const int Records = 6;
    private static readonly TimeSpan WaitMax = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task After_the_leader_is_killed_acknowledged_records_never_come_back_and_held_ones_do(bool coordinatorOnTheLeader)
    {
        await using var cluster = await TributaryCluster.StartAsync(brokers: 3, configure: (_, options) => options.Config["share.coordinator.state.topic.num.partitions"] = "1");
        var coordinator = await CreateStateTopicAsync(cluster);
        var dataLeader = coordinatorOnTheLeader ? coordinator : cluster.Brokers.Keys.First(id => id != coordinator);
        await CreateTopicAndProduceAsync(cluster, [dataLeader, .. cluster.Brokers.Keys.Where(id => id != dataLeader)]);
        foreach (var broker in cluster.Brokers.Values)
        {
            broker.Core.Metadata.SetGroupConfigs(Group, new Dictionary<string, string> { ["share.auto.offset.reset"] = "earliest" });
        }

        var leader = cluster.LeaderOf(Topic, 0);
        Assert.Equal(dataLeader, leader);
        var topicId = cluster.Broker(leader).Core.Metadata.Find(Topic)!.Id;

        // A follower does not serve the share partition.
        var follower = cluster.Brokers.Keys.First(id => id != leader);
        await using (var other = await KafkaWireClient.ConnectAsync(cluster.Broker(follower).BootstrapServers))
        {
            var refused = await FetchAsync(other, topicId, "m0", 0);
            var partition = refused.Responses.Single().Partitions.Single();
            Assert.Equal((short)ErrorCode.NotLeaderOrFollower, partition.ErrorCode);
            Assert.Equal(leader, partition.CurrentLeader.LeaderId);
        }

        await using (var client = await KafkaWireClient.ConnectAsync(cluster.Broker(leader).BootstrapServers))
        {
            var (first, epoch) = await FetchUntilAcquiredAsync(client, topicId, "m1");
            Assert.Equal([(0L, Records - 1L, (short)1)], Acquired(first));

            // 0-2 accepted, 3 rejected; 4 and 5 stay acquired when the leader dies.
            var acked = await AcknowledgeAsync(client, topicId, "m1", epoch);
            Assert.Equal(0, acked.ErrorCode);
            Assert.Equal(0, acked.Responses.Single().Partitions.Single().ErrorCode);
        }

        // The state lives on the replicated __share_group_state, whichever broker leads it.
        Assert.True(cluster.Broker(leader).Core.Cluster!.TryGetPartition(StateTopic, 0, out var stateTopic));
        Assert.Equal(3, stateTopic.Replicas.Length);

        Assert.Equal(coordinator, cluster.LeaderOf(StateTopic, 0));
        await cluster.KillBrokerAsync(leader);
        var survivor = cluster.Brokers.Keys.First();
        await cluster.WaitAsync(() => cluster.LeaderOf(Topic, 0, survivor) is var l && l > 0 && l != leader);
        var moved = cluster.LeaderOf(Topic, 0, survivor);

        // A new leader starts from the high watermark it last heard as a follower, which may be short of the last
        // record, and moves it once the other follower fetches (as Kafka's): records past it cannot be acquired yet.
        var movedLog = cluster.Broker(moved).Core.FindLog(cluster.Broker(moved).Core.Metadata.Find(Topic)!, 0)!;
        await cluster.WaitAsync(() => movedLog.HighWatermark == Records);

        await using (var client = await KafkaWireClient.ConnectAsync(cluster.Broker(moved).BootstrapServers))
        {
            var (redelivered, _) = await FetchUntilAcquiredAsync(client, topicId, "m2");
            Assert.Equal([(4L, 5L, (short)2)], Acquired(redelivered));
            Assert.Equal(["value 4", "value 5"], ShareFetchRecords.Values(redelivered));
        }
    }

    [Fact]
    public async Task Every_broker_describes_the_share_coordinators_start_offset_and_finds_it()
    {
        await using var cluster = await TributaryCluster.StartAsync(brokers: 3);
        await CreateStateTopicAsync(cluster);
        var dataLeader = cluster.Brokers.Keys.First();
        await CreateTopicAndProduceAsync(cluster, [dataLeader, .. cluster.Brokers.Keys.Where(id => id != dataLeader)]);
        foreach (var broker in cluster.Brokers.Values)
        {
            broker.Core.Metadata.SetGroupConfigs(Group, new Dictionary<string, string> { ["share.auto.offset.reset"] = "earliest" });
        }

        var topicId = cluster.Broker(dataLeader).Core.Metadata.Find(Topic)!.Id;
        var statePartition = cluster.Broker(dataLeader).Core.ShareCoordinator.PartitionFor(new(Group, topicId, 0));
        Assert.Equal(50, cluster.Broker(dataLeader).Core.CoordinatorPartitionCount(StateTopic));
        var coordinator = cluster.LeaderOf(StateTopic, statePartition);
        await using (var client = await KafkaWireClient.ConnectAsync(cluster.Broker(dataLeader).BootstrapServers))
        {
            var (_, epoch) = await FetchUntilAcquiredAsync(client, topicId, "m1");
            var acked = await AcknowledgeAsync(client, topicId, "m1", epoch);
            Assert.Equal(0, acked.Responses.Single().Partitions.Single().ErrorCode);
        }

        // Kafka writes a topic id as URL-safe base64 of its 16 big-endian bytes.
        var idBytes = new byte[16];
        topicId.TryWriteBytes(idBytes, bigEndian: true, out _);
        var shareKey = $"{Group}:{System.Buffers.Text.Base64Url.EncodeToString(idBytes)}:0";
        var paddedKey = $"{Group}:{System.Buffers.Text.Base64Url.EncodeToString(idBytes)}:00";
        foreach (var broker in cluster.Brokers.Values)
        {
            await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
            foreach (var topics in new List<DescribeShareGroupOffsetsRequest.DescribeShareGroupOffsetsRequestTopic>?[] { [new() { TopicName = Topic, Partitions = [0] }], null })
            {
                var described = await client.SendAsync<DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse>(ApiKey.DescribeShareGroupOffsets, 1, new DescribeShareGroupOffsetsRequest
                {
                    Groups = [new() { GroupId = Group, Topics = topics }],
                });
                var group = described.Groups.Single();
                Assert.Equal(0, group.ErrorCode);
                var partition = group.Topics.Single(t => t.TopicName == Topic).Partitions.Single();
                Assert.Equal((0, 0, 4L), (partition.PartitionIndex, partition.ErrorCode, partition.StartOffset));
            }

            var found = await client.SendAsync<FindCoordinatorRequest, FindCoordinatorResponse>(ApiKey.FindCoordinator, 6, new FindCoordinatorRequest
            {
                KeyType = 2,
                CoordinatorKeys = [shareKey, "not-a-share-key", paddedKey],
            });
            Assert.Equal((shareKey, 0, coordinator), (found.Coordinators[0].Key, found.Coordinators[0].ErrorCode, found.Coordinators[0].NodeId));
            Assert.Equal((short)ErrorCode.InvalidRequest, found.Coordinators[1].ErrorCode);

            // Partition "00" is partition 0: as Kafka, the key is parsed and written again before it is hashed.
            Assert.Equal((0, coordinator), (found.Coordinators[2].ErrorCode, found.Coordinators[2].NodeId));
        }
    }

    // Creates __share_group_state as the first share partition would; returns the leader of partition 0 once every
    // broker sees every partition with its replicas in sync.
    private static async Task<int> CreateStateTopicAsync(TributaryCluster cluster)
    {
        var core = cluster.Brokers.Values.First().Core;
        await cluster.WaitAsync(() => core.CoordinatorNode(StateTopic, "", 3, new Dictionary<string, string> { ["min.insync.replicas"] = "2" }).Error == ErrorCode.None);
        var partitions = core.CoordinatorPartitionCount(StateTopic);
        await cluster.WaitAsync(() => Enumerable.Range(0, partitions).All(p => cluster.Brokers.Values.All(b => b.Core.Replicas!.StateOf(StateTopic, p) is { Isr.Length: 3, Leader: > 0 })));
        return cluster.LeaderOf(StateTopic, 0);
    }

    private static async Task CreateTopicAndProduceAsync(TributaryCluster cluster, List<int> replicas)
    {
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = Topic, NumPartitions = 1, ReplicationFactor = -1, ReplicasAssignments = new() { [0] = replicas } }]);
        }

        await cluster.WaitAsync(() => cluster.Brokers.Values.All(b => b.Core.Replicas!.StateOf(Topic, 0) is { Isr.Length: 3, Leader: > 0 }));
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, Acks = Acks.All, EnableIdempotence = true, LingerMs = 0 }).Build();
        await EtcdReplicationTests.ProduceAsync(producer, 0, Records, Topic);
    }

    // Accepts records 0-2 and rejects 3 (both done: the start offset moves to 4); 4 and 5 stay acquired.
    private static Task<ShareAcknowledgeResponse> AcknowledgeAsync(KafkaWireClient client, Guid topicId, string memberId, int epoch) =>
        client.SendAsync<ShareAcknowledgeRequest, ShareAcknowledgeResponse>(ApiKey.ShareAcknowledge, 1, new ShareAcknowledgeRequest
        {
            GroupId = Group,
            MemberId = memberId,
            ShareSessionEpoch = epoch,
            Topics =
            [
                new()
                {
                    TopicId = topicId,
                    Partitions =
                    [
                        new()
                        {
                            PartitionIndex = 0,
                            AcknowledgementBatches =
                            [
                                new() { FirstOffset = 0, LastOffset = 2, AcknowledgeTypes = [1] },
                                new() { FirstOffset = 3, LastOffset = 3, AcknowledgeTypes = [3] },
                            ],
                        },
                    ],
                },
            ],
        });

    // Opens a share session and fetches until records are acquired: the share coordinator may still be created or
    // loading (a partition error), which the next request of the session tries again. Returns the next epoch.
    private static async Task<(ShareFetchResponse Response, int NextEpoch)> FetchUntilAcquiredAsync(KafkaWireClient client, Guid topicId, string memberId)
    {
        var deadline = DateTime.UtcNow + WaitMax;
        for (var epoch = 0; DateTime.UtcNow < deadline; epoch++)
        {
            var response = await FetchAsync(client, topicId, memberId, epoch);
            Assert.Equal(0, response.ErrorCode);
            if (Acquired(response).Count > 0)
            {
                return (response, epoch + 1);
            }

            await Task.Delay(200);
        }

        throw new TimeoutException("no records acquired");
    }

    private static Task<ShareFetchResponse> FetchAsync(KafkaWireClient client, Guid topicId, string memberId, int epoch) =>
        client.SendAsync<ShareFetchRequest, ShareFetchResponse>(ApiKey.ShareFetch, 1, new ShareFetchRequest
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

    private static List<(long First, long Last, short DeliveryCount)> Acquired(ShareFetchResponse response) =>
        [.. response.Responses.SelectMany(t => t.Partitions).SelectMany(p => p.AcquiredRecords.Select(r => (r.FirstOffset, r.LastOffset, r.DeliveryCount)))];
}
