using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;
using ErrorCode = Tributary.Protocol.ErrorCode;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// Coordinators on the leaders of their internal partitions, against a real etcd of 3 members and three embedded
/// brokers: the group coordinator is the leader of <c>__consumer_offsets</c> (replication factor 3), other brokers
/// answer NOT_COORDINATOR, and when the coordinator's broker stops, the new leader loads the committed offsets from
/// its replica, FindCoordinator names it, and the consumer group goes on from where it committed.
/// </summary>
public sealed class CoordinatorFailoverTests(EtcdFixture fixture) : IClassFixture<EtcdFixture>, IAsyncLifetime
{
    private const string Topic = "orders";
    private const string Group = "billing";
    private const string OffsetsTopic = "__consumer_offsets";
    private const int Records = 20;
    private static readonly TimeSpan WaitMax = TimeSpan.FromSeconds(60);

    private readonly EtcdBrokers _cluster = new(fixture.Etcd, "coord");

    private Dictionary<int, TributaryBroker> Brokers => _cluster.Running;

    [Fact]
    public async Task Committed_offsets_survive_the_group_coordinator_stopping_and_the_group_goes_on_from_them()
    {
        await StartClusterAsync();
        await ProduceAsync(0, Records);

        using var consumer = Consumer();
        consumer.Subscribe(Topic);
        var first = Consume(consumer, Records / 2);
        Assert.Equal(Values(0, Records / 2), first);
        consumer.Commit();

        var coordinator = await CoordinatorAsync();
        Assert.Equal(OffsetsLeader(), coordinator);

        // Another broker is not the coordinator: group requests sent to it answer NOT_COORDINATOR.
        var other = Brokers.Keys.First(id => id != coordinator);
        await using (var client = await KafkaWireClient.ConnectAsync(Brokers[other].BootstrapServers))
        {
            var heartbeat = await client.SendAsync<HeartbeatRequest, HeartbeatResponse>(ApiKey.Heartbeat, 4, new HeartbeatRequest { GroupId = Group, GenerationId = 1, MemberId = "m" });
            Assert.Equal((short)ErrorCode.NotCoordinator, heartbeat.ErrorCode);
        }

        await _cluster.StopAsync(coordinator);
        await ReplicationTests.WaitUntilAsync(() => OffsetsLeader() is var leader and > 0 && leader != coordinator
            && Brokers[leader].Core.Groups.CoordinatorErrorFor(Group) == ErrorCode.None);
        var moved = await CoordinatorAsync();
        Assert.NotEqual(coordinator, moved);
        Assert.Equal(OffsetsLeader(), moved);

        // The commit made before the stop is on the new coordinator, and the group resumes right after it: no record
        // is read twice, none skipped.
        var committed = consumer.Committed([new TopicPartition(Topic, 0)], TimeSpan.FromSeconds(30));
        Assert.Equal(Records / 2, committed.Single().Offset.Value);
        var rest = Consume(consumer, Records / 2);
        Assert.Equal(Values(Records / 2, Records / 2), rest);
        consumer.Commit();
        Assert.Equal(Records, consumer.Committed([new TopicPartition(Topic, 0)], TimeSpan.FromSeconds(30)).Single().Offset.Value);
    }

    [Fact]
    public async Task Killing_a_coordinators_broker_moves_only_the_groups_of_its_partitions_and_clients_keep_working()
    {
        await StartClusterAsync();
        await ProduceAsync(0, Records);
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = Bootstrap() }).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = Receipts, NumPartitions = 1, ReplicationFactor = 3 }]);
        }

        // Groups spread over the 50 partitions of __consumer_offsets, so over the three brokers; FindCoordinator names
        // the leader of each group's partition.
        var groups = Enumerable.Range(0, 30).Select(i => "group-" + i.ToString(CultureInfo.InvariantCulture)).Append(Group).ToList();
        var before = await CoordinatorsAsync(groups);
        Assert.Equal(50, Brokers.Values.First().Core.CoordinatorPartitionCount(OffsetsTopic));
        Assert.All(groups, g => Assert.Equal(LeaderOfPartitionOf(g), before[g]));
        Assert.Equal(3, before.Values.Distinct().Count());

        using var consumer = Consumer();
        consumer.Subscribe(Topic);
        Assert.Equal(Values(0, Records / 2), Consume(consumer, Records / 2));
        consumer.Commit();
        using var producer = TransactionalProducer();
        producer.InitTransactions(WaitMax);

        // The broker that coordinates the consumer's group is killed.
        var victim = before[Group];
        await _cluster.KillAsync(victim);
        await ReplicationTests.WaitUntilAsync(() => groups.All(g => LeaderOfPartitionOf(g) is var l && l > 0 && l != victim
            && Brokers[l].Core.Groups.CoordinatorErrorFor(g) == ErrorCode.None));
        var after = await CoordinatorsAsync(groups);
        foreach (var g in groups)
        {
            // Only the groups of the partitions the killed broker led have another coordinator.
            if (before[g] == victim)
            {
                Assert.NotEqual(victim, after[g]);
            }
            else
            {
                Assert.Equal(before[g], after[g]);
            }
        }

        // The consumer group goes on from its commit on the new coordinator, and a transactional producer sends the
        // group's offsets in a transaction (its coordinator and the group's need not be the same broker).
        Assert.Equal(Values(Records / 2, Records / 2), Consume(consumer, Records / 2));
        producer.BeginTransaction();
        await producer.ProduceAsync(Receipts, new Message<string, string> { Key = "k", Value = "receipt" });
        producer.SendOffsetsToTransaction([new TopicPartitionOffset(Topic, 0, Records)], consumer.ConsumerGroupMetadata, WaitMax);
        producer.CommitTransaction(WaitMax);
        Assert.Equal(Records, consumer.Committed([new TopicPartition(Topic, 0)], TimeSpan.FromSeconds(30)).Single().Offset.Value);
    }

    private const string Receipts = "receipts";

    // FindCoordinator (v4, every group in one request) from each running broker, asked again (as clients do) while
    // an answer is COORDINATOR_NOT_AVAILABLE (the topic just created, a partition without a leader yet): all must agree.
    private async Task<Dictionary<string, int>> CoordinatorsAsync(List<string> groups)
    {
        Dictionary<string, int>? agreed = null;
        foreach (var broker in Brokers.Values)
        {
            await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
            var deadline = DateTime.UtcNow + WaitMax;
            FindCoordinatorResponse response;
            do
            {
                response = await client.SendAsync<FindCoordinatorRequest, FindCoordinatorResponse>(ApiKey.FindCoordinator, 4,
                    new FindCoordinatorRequest { KeyType = 0, CoordinatorKeys = groups });
            }
            while (response.Coordinators.Any(c => c.ErrorCode == (short)ErrorCode.CoordinatorNotAvailable) && DateTime.UtcNow < deadline && await Pause());

            Assert.All(response.Coordinators, c => Assert.Equal((short)ErrorCode.None, c.ErrorCode));
            var found = response.Coordinators.ToDictionary(c => c.Key, c => c.NodeId);
            Assert.Equal(agreed ?? found, found);
            agreed = found;
        }

        return agreed!;

        static async Task<bool> Pause()
        {
            await Task.Delay(100);
            return true;
        }
    }

    private int LeaderOfPartitionOf(string group) => Brokers.Values.First().Core is var core
        && core.Cluster!.TryGetPartition(OffsetsTopic, core.CoordinatorPartitionFor(OffsetsTopic, group), out var state) ? state.Leader : -1;

    private IProducer<string, string> TransactionalProducer() => new ProducerBuilder<string, string>(new ProducerConfig
    {
        BootstrapServers = Bootstrap(),
        TransactionalId = "receipts-writer",
        Acks = Acks.All,
        LingerMs = 0,
    }).Build();

    private async Task StartClusterAsync()
    {
        await _cluster.StartAllAsync(3);
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = Bootstrap() }).Build();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = Topic, NumPartitions = 1, ReplicationFactor = 3 }]);
        await ReplicationTests.WaitUntilAsync(() => Brokers.Values.All(b => b.Core.Replicas!.StateOf(Topic, 0) is { Isr.Length: 3, Leader: > 0 }));
    }

    // FindCoordinator (v4) from every running broker: all name the same node, which is returned.
    private async Task<int> CoordinatorAsync()
    {
        var answers = new List<int>();
        foreach (var broker in Brokers.Values)
        {
            await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
            var response = await client.SendAsync<FindCoordinatorRequest, FindCoordinatorResponse>(ApiKey.FindCoordinator, 4,
                new FindCoordinatorRequest { KeyType = 0, CoordinatorKeys = [Group] });
            var found = response.Coordinators.Single();
            Assert.Equal((short)ErrorCode.None, found.ErrorCode);
            Assert.Equal(Brokers[found.NodeId].Port, found.Port);
            answers.Add(found.NodeId);
        }

        return Assert.Single(answers.Distinct());
    }

    // The leader of the group's partition of __consumer_offsets.
    private int OffsetsLeader() => Brokers.Values.First().Core is var core
        && core.Cluster!.TryGetPartition(OffsetsTopic, core.CoordinatorPartitionFor(OffsetsTopic, Group), out var state) ? state.Leader : -1;

    private string Bootstrap() => _cluster.Bootstrap;

    private static List<string> Values(int from, int count) => [.. Enumerable.Range(from, count).Select(i => "value " + i.ToString(CultureInfo.InvariantCulture))];

    private async Task ProduceAsync(int from, int count)
    {
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = Bootstrap(), Acks = Acks.All, EnableIdempotence = true, LingerMs = 0 }).Build();
        foreach (var value in Values(from, count))
        {
            var delivered = await producer.ProduceAsync(Topic, new Message<string, string> { Key = "k", Value = value });
            Assert.Equal(PersistenceStatus.Persisted, delivered.Status);
        }
    }

    private IConsumer<string, string> Consumer() => new ConsumerBuilder<string, string>(new ConsumerConfig
    {
        BootstrapServers = Bootstrap(),
        GroupId = Group,
        EnableAutoCommit = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
    }).Build();

    private static List<string> Consume(IConsumer<string, string> consumer, int count)
    {
        var values = new List<string>();
        var deadline = DateTime.UtcNow + WaitMax;
        while (values.Count < count && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false, Message: { } message })
            {
                values.Add(message.Value);
            }
        }

        return values;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _cluster.DisposeAsync();
}
