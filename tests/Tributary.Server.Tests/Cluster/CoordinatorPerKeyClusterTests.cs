using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;
using ErrorCode = Tributary.Protocol.ErrorCode;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// Coordinators per key, in an embedded cluster of 3 brokers on a real etcd of 3 members, with Kafka's 50 partitions
/// of each coordinator topic. A DescribeGroups (and an OffsetFetch v8) naming two groups whose __consumer_offsets
/// partitions two different brokers lead is answered by each of them for its own group and NOT_COORDINATOR for the
/// other, and ListGroups on each lists only its own; DescribeTransactions and ListTransactions likewise for two
/// transactional ids on two coordinators. A share group reading a topic of several partitions keeps its
/// state on several partitions of __share_group_state, led by different brokers; killing one of those leaders loses
/// none of it: every surviving broker describes the same start offsets, and the data partitions' leader goes on
/// acknowledging with the new state coordinators. Raw protocol, as clients and brokers send it.
/// </summary>
public sealed class CoordinatorPerKeyClusterTests
{
    private const string OffsetsTopic = "__consumer_offsets";
    private const string StateTopic = "__share_group_state";
    private const string TransactionTopic = "__transaction_state";
    private const string Topic = "events";
    private const string ShareGroup = "pickers";
    private const int DataPartitions = 8;
    private static readonly TimeSpan WaitMax = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task DescribeGroups_naming_groups_on_two_coordinators_is_answered_per_group_by_each()
    {
        await using var cluster = await TributaryCluster.StartAsync(brokers: 3);
        var core = cluster.Brokers.Values.First().Core;
        await cluster.WaitAsync(() => core.CoordinatorNode(OffsetsTopic, "", 3, new Dictionary<string, string>()).Error == ErrorCode.None);
        var partitions = core.CoordinatorPartitionCount(OffsetsTopic);
        Assert.Equal(50, partitions);
        await cluster.WaitAsync(() => Enumerable.Range(0, partitions).All(p =>
            cluster.LeaderOf(OffsetsTopic, p) is var leader && leader > 0 && cluster.Broker(leader).Core.Groups.CoordinatorErrorOf(p) == ErrorCode.None));
        await CreateTopicAsync(cluster, partitions: 1, leader: cluster.Brokers.Keys.First());

        // Two groups whose partitions different brokers lead.
        int LeaderOfGroup(string group) => cluster.LeaderOf(OffsetsTopic, core.CoordinatorPartitionFor(OffsetsTopic, group));
        var candidates = Enumerable.Range(0, 100).Select(i => $"team-{i}").ToList();
        var a = candidates[0];
        var b = candidates.First(g => LeaderOfGroup(g) != LeaderOfGroup(a));
        var (leaderA, leaderB) = (LeaderOfGroup(a), LeaderOfGroup(b));

        await using var clientA = await KafkaWireClient.ConnectAsync(cluster.Broker(leaderA).BootstrapServers);
        await using var clientB = await KafkaWireClient.ConnectAsync(cluster.Broker(leaderB).BootstrapServers);
        Assert.Equal(0, (await CommitAsync(clientA, a, 11)).Topics.Single().Partitions.Single().ErrorCode);
        Assert.Equal(0, (await CommitAsync(clientB, b, 22)).Topics.Single().Partitions.Single().ErrorCode);

        foreach (var (client, own, other, offset) in new[] { (clientA, a, b, 11L), (clientB, b, a, 22L) })
        {
            var described = await client.SendAsync<DescribeGroupsRequest, DescribeGroupsResponse>(ApiKey.DescribeGroups, 5, new DescribeGroupsRequest { Groups = [a, b] });
            Assert.Equal([a, b], described.Groups.Select(g => g.GroupId));
            var ownEntry = described.Groups.Single(g => g.GroupId == own);
            var otherEntry = described.Groups.Single(g => g.GroupId == other);
            Assert.Equal((0, "Empty"), (ownEntry.ErrorCode, ownEntry.GroupState));
            Assert.Equal((short)ErrorCode.NotCoordinator, otherEntry.ErrorCode);

            var fetched = await client.SendAsync<OffsetFetchRequest, OffsetFetchResponse>(ApiKey.OffsetFetch, 8, new OffsetFetchRequest
            {
                Groups = [.. new[] { a, b }.Select(g => new OffsetFetchRequest.OffsetFetchRequestGroup
                {
                    GroupId = g,
                    Topics = [new OffsetFetchRequest.OffsetFetchRequestTopics { Name = Topic, PartitionIndexes = [0] }],
                })],
            });
            var ownOffsets = fetched.Groups.Single(g => g.GroupId == own);
            Assert.Equal((0, offset), (ownOffsets.ErrorCode, ownOffsets.Topics.Single().Partitions.Single().CommittedOffset));
            Assert.Equal((short)ErrorCode.NotCoordinator, fetched.Groups.Single(g => g.GroupId == other).ErrorCode);

            // Each broker lists the groups it coordinates.
            var listed = await client.SendAsync<ListGroupsRequest, ListGroupsResponse>(ApiKey.ListGroups, 5, new ListGroupsRequest());
            Assert.Equal(0, listed.ErrorCode);
            Assert.Contains(own, listed.Groups.Select(g => g.GroupId));
            Assert.DoesNotContain(other, listed.Groups.Select(g => g.GroupId));
        }
    }

    [Fact]
    public async Task DescribeTransactions_naming_ids_on_two_coordinators_is_answered_per_id_by_each()
    {
        await using var cluster = await TributaryCluster.StartAsync(brokers: 3);
        var core = cluster.Brokers.Values.First().Core;
        await cluster.WaitAsync(() => core.CoordinatorNode(TransactionTopic, "", 3, new Dictionary<string, string> { ["min.insync.replicas"] = "2" }).Error == ErrorCode.None);
        var partitions = core.CoordinatorPartitionCount(TransactionTopic);
        Assert.Equal(50, partitions);
        await cluster.WaitAsync(() => Enumerable.Range(0, partitions).All(p => cluster.LeaderOf(TransactionTopic, p) > 0));

        int LeaderOfId(string id) => cluster.LeaderOf(TransactionTopic, core.CoordinatorPartitionFor(TransactionTopic, id));
        var candidates = Enumerable.Range(0, 100).Select(i => $"writer-{i}").ToList();
        var a = candidates[0];
        var b = candidates.First(id => LeaderOfId(id) != LeaderOfId(a));
        var (leaderA, leaderB) = (LeaderOfId(a), LeaderOfId(b));
        await cluster.WaitAsync(() => cluster.Broker(leaderA).Core.Transactions.CoordinatorErrorFor(a) == ErrorCode.None
            && cluster.Broker(leaderB).Core.Transactions.CoordinatorErrorFor(b) == ErrorCode.None);

        await using var clientA = await KafkaWireClient.ConnectAsync(cluster.Broker(leaderA).BootstrapServers);
        await using var clientB = await KafkaWireClient.ConnectAsync(cluster.Broker(leaderB).BootstrapServers);
        foreach (var (client, id) in new[] { (clientA, a), (clientB, b) })
        {
            var initialized = await client.SendAsync<InitProducerIdRequest, InitProducerIdResponse>(ApiKey.InitProducerId, 4, new InitProducerIdRequest { TransactionalId = id, TransactionTimeoutMs = 60_000 });
            Assert.Equal(0, initialized.ErrorCode);
        }

        foreach (var (client, own, other) in new[] { (clientA, a, b), (clientB, b, a) })
        {
            var described = await client.SendAsync<DescribeTransactionsRequest, DescribeTransactionsResponse>(ApiKey.DescribeTransactions, 0, new DescribeTransactionsRequest { TransactionalIds = [a, b] });
            Assert.Equal([a, b], described.TransactionStates.Select(t => t.TransactionalId));
            var ownEntry = described.TransactionStates.Single(t => t.TransactionalId == own);
            Assert.Equal((0, "Empty"), (ownEntry.ErrorCode, ownEntry.TransactionState));
            Assert.True(ownEntry.ProducerId >= 0);
            Assert.Equal((short)ErrorCode.NotCoordinator, described.TransactionStates.Single(t => t.TransactionalId == other).ErrorCode);

            var listed = await client.SendAsync<ListTransactionsRequest, ListTransactionsResponse>(ApiKey.ListTransactions, 1, new ListTransactionsRequest { DurationFilter = -1 });
            Assert.Equal(0, listed.ErrorCode);
            Assert.Contains(own, listed.TransactionStates.Select(t => t.TransactionalId));
            Assert.DoesNotContain(other, listed.TransactionStates.Select(t => t.TransactionalId));
        }
    }

    [Fact]
    public async Task Share_state_on_several_state_partitions_survives_killing_one_of_their_leaders()
    {
        await using var cluster = await TributaryCluster.StartAsync(brokers: 3);
        var core = cluster.Brokers.Values.First().Core;
        await cluster.WaitAsync(() => core.CoordinatorNode(StateTopic, "", 3, new Dictionary<string, string> { ["min.insync.replicas"] = "2" }).Error == ErrorCode.None);
        var statePartitions = core.CoordinatorPartitionCount(StateTopic);
        Assert.Equal(50, statePartitions);
        await cluster.WaitAsync(() => Enumerable.Range(0, statePartitions).All(p =>
            cluster.Brokers.Values.All(b => b.Core.Replicas!.StateOf(StateTopic, p) is { Isr.Length: 3, Leader: > 0 })
            && cluster.Broker(cluster.LeaderOf(StateTopic, p)).Core.ShareCoordinator.CoordinatorErrorOf(p) == ErrorCode.None));

        var dataLeader = cluster.Brokers.Keys.First();
        await CreateTopicAsync(cluster, DataPartitions, dataLeader);
        foreach (var broker in cluster.Brokers.Values)
        {
            broker.Core.Metadata.SetGroupConfigs(ShareGroup, new Dictionary<string, string> { ["share.auto.offset.reset"] = "earliest" });
        }

        await ProduceAsync(cluster, "first");
        var topicId = core.Metadata.Find(Topic)!.Id;

        // Each share partition's state lives in the state partition its key hashes to; they spread over several
        // partitions, and a broker other than the data leader leads some of them: it is the one killed.
        var stateOf = Enumerable.Range(0, DataPartitions).ToDictionary(p => p, p => core.ShareCoordinator.PartitionFor(new(ShareGroup, topicId, p)));
        Assert.True(stateOf.Values.Distinct().Count() > 1, "every share partition's state hashes to one state partition");
        var victim = stateOf.Values.Select(p => cluster.LeaderOf(StateTopic, p)).FirstOrDefault(l => l != dataLeader);
        Assert.True(victim > 0, "the data leader leads every state partition of the group's keys");
        var victimPartitions = stateOf.Values.Where(p => cluster.LeaderOf(StateTopic, p) == victim).Distinct().ToList();

        await using var client = await KafkaWireClient.ConnectAsync(cluster.Broker(dataLeader).BootstrapServers);
        var epoch = await AcquireAndAcceptAsync(client, topicId, 0, 0, 3);
        foreach (var id in cluster.Brokers.Keys)
        {
            Assert.Equal(Enumerable.Repeat(3L, DataPartitions), await StartOffsetsAsync(cluster, id));
        }

        await cluster.KillBrokerAsync(victim);
        var survivor = dataLeader;
        await cluster.WaitAsync(() => victimPartitions.All(p =>
            cluster.Broker(survivor).Core.Cluster!.TryGetPartition(StateTopic, p, out var state) && state.Leader > 0 && state.Leader != victim
            && !state.Isr.Contains(victim) && cluster.Broker(state.Leader).Core.ShareCoordinator.CoordinatorErrorOf(p) == ErrorCode.None)
            && Enumerable.Range(0, DataPartitions).All(p =>
                cluster.Broker(survivor).Core.Cluster!.TryGetPartition(Topic, p, out var data) && data.Leader == dataLeader && !data.Isr.Contains(victim)));

        // The new leaders of the victim's state partitions loaded the state from their replicas.
        foreach (var id in cluster.Brokers.Keys)
        {
            Assert.Equal(Enumerable.Repeat(3L, DataPartitions), await StartOffsetsAsync(cluster, id));
        }

        // The share partitions go on: the next records are acquired and accepted, written to the new coordinators.
        await ProduceAsync(cluster, "second");
        await AcquireAndAcceptAsync(client, topicId, epoch, 3, 3);
        foreach (var id in cluster.Brokers.Keys)
        {
            Assert.Equal(Enumerable.Repeat(6L, DataPartitions), await StartOffsetsAsync(cluster, id));
        }
    }

    private static async Task CreateTopicAsync(TributaryCluster cluster, int partitions, int leader)
    {
        List<int> replicas = [leader, .. cluster.Brokers.Keys.Where(id => id != leader)];
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification
            {
                Name = Topic,
                NumPartitions = partitions,
                ReplicationFactor = -1,
                ReplicasAssignments = Enumerable.Range(0, partitions).ToDictionary(p => p, _ => replicas),
            }]);
        }

        await cluster.WaitAsync(() => Enumerable.Range(0, partitions).All(p => cluster.Brokers.Values.All(b => b.Core.Replicas!.StateOf(Topic, p) is { Isr.Length: 3, Leader: > 0 })));
    }

    // One record per partition, three times.
    private static async Task ProduceAsync(TributaryCluster cluster, string label)
    {
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, Acks = Acks.All, EnableIdempotence = true, LingerMs = 0 }).Build();
        for (var i = 0; i < 3; i++)
        {
            for (var p = 0; p < DataPartitions; p++)
            {
                await producer.ProduceAsync(new TopicPartition(Topic, p), new Message<string, string> { Key = "k", Value = $"{label} {i}" });
            }
        }
    }

    private static Task<OffsetCommitResponse> CommitAsync(KafkaWireClient client, string group, long offset) =>
        client.SendAsync<OffsetCommitRequest, OffsetCommitResponse>(ApiKey.OffsetCommit, 8, new OffsetCommitRequest
        {
            GroupId = group,
            GenerationIdOrMemberEpoch = -1,
            MemberId = "",
            Topics = [new OffsetCommitRequest.OffsetCommitRequestTopic { Name = Topic, Partitions = [new OffsetCommitRequest.OffsetCommitRequestPartition { PartitionIndex = 0, CommittedOffset = offset }] }],
        });

    // Fetches in the share session from `epoch` (0 opens it with every partition) until each partition acquired its
    // `count` records from `first`, then accepts them all; returns the session's next epoch. A partition error (its
    // state coordinator loading or moving) is tried again by the session's next request.
    private static async Task<int> AcquireAndAcceptAsync(KafkaWireClient client, Guid topicId, int epoch, long first, int count)
    {
        var acquired = new Dictionary<int, HashSet<long>>();
        var deadline = DateTime.UtcNow + WaitMax;
        while (Enumerable.Range(0, DataPartitions).Any(p => acquired.GetValueOrDefault(p)?.Count != count))
        {
            Assert.True(DateTime.UtcNow < deadline, $"acquired {acquired.Values.Sum(a => a.Count)} of {DataPartitions * count} records");
            var response = await client.SendAsync<ShareFetchRequest, ShareFetchResponse>(ApiKey.ShareFetch, 1, new ShareFetchRequest
            {
                GroupId = ShareGroup,
                MemberId = "m1",
                ShareSessionEpoch = epoch,
                MaxWaitMs = 200,
                MinBytes = 1,
                MaxBytes = 1 << 20,
                MaxRecords = 100,
                BatchSize = 100,
                Topics = epoch == 0 ? [new() { TopicId = topicId, Partitions = [.. Enumerable.Range(0, DataPartitions).Select(p => new ShareFetchRequest.FetchPartition { PartitionIndex = p })] }] : [],
            });
            Assert.Equal(0, response.ErrorCode);
            epoch++;
            foreach (var partition in response.Responses.SelectMany(t => t.Partitions))
            {
                foreach (var range in partition.AcquiredRecords)
                {
                    for (var offset = range.FirstOffset; offset <= range.LastOffset; offset++)
                    {
                        (acquired.TryGetValue(partition.PartitionIndex, out var set) ? set : acquired[partition.PartitionIndex] = []).Add(offset);
                    }
                }
            }
        }

        Assert.All(acquired.Values, offsets => Assert.Equal(Enumerable.Range((int)first, count).Select(o => (long)o), offsets.Order()));
        var acked = await client.SendAsync<ShareAcknowledgeRequest, ShareAcknowledgeResponse>(ApiKey.ShareAcknowledge, 1, new ShareAcknowledgeRequest
        {
            GroupId = ShareGroup,
            MemberId = "m1",
            ShareSessionEpoch = epoch,
            Topics =
            [
                new()
                {
                    TopicId = topicId,
                    Partitions = [.. Enumerable.Range(0, DataPartitions).Select(p => new ShareAcknowledgeRequest.AcknowledgePartition
                    {
                        PartitionIndex = p,
                        AcknowledgementBatches = [new() { FirstOffset = first, LastOffset = first + count - 1, AcknowledgeTypes = [1] }],
                    })],
                },
            ],
        });
        Assert.Equal(0, acked.ErrorCode);
        Assert.All(acked.Responses.SelectMany(t => t.Partitions), p => Assert.Equal(0, p.ErrorCode));
        return epoch + 1;
    }

    // DescribeShareGroupOffsets on one broker: the start offset of each data partition, as its state coordinator holds it.
    private static async Task<List<long>> StartOffsetsAsync(TributaryCluster cluster, int askedId)
    {
        await using var client = await KafkaWireClient.ConnectAsync(cluster.Broker(askedId).BootstrapServers);
        var described = await client.SendAsync<DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse>(ApiKey.DescribeShareGroupOffsets, 1, new DescribeShareGroupOffsetsRequest
        {
            Groups = [new() { GroupId = ShareGroup, Topics = [new() { TopicName = Topic, Partitions = [.. Enumerable.Range(0, DataPartitions)] }] }],
        });
        var group = described.Groups.Single();
        Assert.Equal(0, group.ErrorCode);
        var partitions = group.Topics.Single().Partitions.OrderBy(p => p.PartitionIndex).ToList();
        Assert.All(partitions, p => Assert.Equal(0, p.ErrorCode));
        return [.. partitions.Select(p => p.StartOffset)];
    }
}
