using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;
using Tributary.Storage;
using ApiKey = Tributary.Protocol.ApiKey;
using ProtocolError = Tributary.Protocol.ErrorCode;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// The etcd control plane and the replication data plane together: three embedded brokers on a real etcd of three
/// members replicate a topic of replication factor 3, and when its leader stops the controller elects another ISR
/// member and clients move to it without losing or repeating an acknowledged record.
/// </summary>
public sealed class EtcdReplicationTests(EtcdFixture fixture) : IClassFixture<EtcdFixture>, IDisposable
{
    private const string Topic = "wired";
    private const int Records = 30;
    private static readonly TimeSpan WaitMax = TimeSpan.FromSeconds(60);

    private readonly string _prefix = "/wire-" + Guid.NewGuid().ToString("N");
    private readonly string _root = Directory.CreateTempSubdirectory("tributary-wire-").FullName;
    private readonly Dictionary<int, TributaryBroker> _brokers = [];

    [Fact]
    public async Task Acks_all_records_survive_the_leader_stopping_and_a_new_producer_after_it_is_accepted()
    {
        var (producer, expected) = await StartAndProduceAsync();
        using var disposeProducer = producer;
        await StopLeaderAndProduceAsync(producer, expected);

        // A producer started after the failover gets an id no broker handed out before (blocks reserved in etcd), so
        // the new leader, which rebuilt the old producer's state from the replicated log, takes its sequence 0.
        using (var late = Producer())
        {
            expected.AddRange(await ProduceAsync(late, 2 * Records, Records));
        }

        Assert.Equal(expected, Consume(expected.Count));
    }

    [Fact]
    public async Task A_stopped_leader_started_again_on_its_data_rejoins_as_follower_and_reenters_the_isr()
    {
        var (producer, expected) = await StartAndProduceAsync();
        using var disposeProducer = producer;
        var stopped = await StopLeaderAndProduceAsync(producer, expected);

        await StartBrokerAsync(stopped);
        var leader = _brokers[LeaderId()];
        Assert.NotEqual(stopped, leader.Config.NodeId);

        // It follows the new leader, fetches what it missed and is taken back into the ISR; that ISR-only change
        // reaches every broker's replica state (the other follower's too), not just the leader's.
        await ReplicationTests.WaitUntilAsync(() => _brokers.Values.All(b => b.Core.Cluster!.TryGetPartition(Topic, 0, out var s) && s.Isr.Length == 3)
            && Log(_brokers[stopped]).HighWatermark == 2 * Records);
        await ReplicationTests.WaitUntilAsync(() => _brokers.Values.All(b => b.Core.Replicas!.StateOf(Topic, 0) is { Isr.Length: 3 } s
            && b.Core.Cluster!.TryGetPartition(Topic, 0, out var held) && held.PartitionEpoch == s.PartitionEpoch));
        var other = _brokers.Keys.Single(id => id != stopped && id != leader.Config.NodeId);
        Assert.Equal([1, 2, 3], _brokers[other].Core.Replicas!.StateOf(Topic, 0)!.Isr.Order());
        Assert.Equal(leader.Config.NodeId, _brokers[stopped].Core.Replicas!.StateOf(Topic, 0)!.Leader);
        var leaderLog = Log(leader);
        Assert.Equal(ReplicationTests.ReadUpTo(leaderLog, leaderLog.HighWatermark), ReplicationTests.ReadUpTo(Log(_brokers[stopped]), leaderLog.HighWatermark));
        Assert.Equal(expected, Consume(expected.Count));
    }

    [Fact]
    public async Task Controlled_shutdown_moves_leadership_before_the_lease_ends_and_loses_no_acknowledged_record()
    {
        var (producer, expected) = await StartAndProduceAsync();
        using var disposeProducer = producer;
        var stopping = LeaderId();
        var others = _brokers.Keys.Where(id => id != stopping).ToArray();

        // An acks=all idempotent producer goes on while the leader shuts down; every record must be acknowledged
        // (librdkafka retries the retriable NOT_LEADER_OR_FOLLOWER itself, anything else fails the delivery).
        using var stopProducing = new CancellationTokenSource();
        var producing = Task.Run(async () =>
        {
            var acknowledged = new List<string>();
            for (var i = Records; !stopProducing.IsCancellationRequested || acknowledged.Count < 5; i++)
            {
                acknowledged.AddRange(await ProduceAsync(producer, i, 1));
            }

            return acknowledged;
        });

        // The controller moves the leadership and drops the broker from the ISR while it is still registered.
        Assert.True(await _brokers[stopping].Core.Cluster!.ControlledShutdownAsync(CancellationToken.None));
        Assert.All(others, id =>
        {
            Assert.True(_brokers[id].Core.Cluster!.TryGetPartition(Topic, 0, out var state));
            Assert.Contains(state.Leader, others);
            Assert.DoesNotContain(stopping, state.Isr);
            Assert.True(_brokers[id].Core.Cluster!.IsLive(stopping));
        });

        await _brokers[stopping].StopAsync();
        _brokers.Remove(stopping);
        await stopProducing.CancelAsync();
        expected.AddRange(await producing);

        Assert.Equal(expected, Consume(expected.Count));
    }

    [Fact]
    public async Task Preferred_leader_election_moves_leadership_back_to_the_returned_first_replica()
    {
        var (producer, expected) = await StartAndProduceAsync();
        using var disposeProducer = producer;
        Assert.True(_brokers[1].Core.Cluster!.TryGetPartition(Topic, 0, out var created));
        var preferred = created.Replicas[0];
        Assert.Equal(preferred, created.Leader);
        var stopped = await StopLeaderAndProduceAsync(producer, expected);
        Assert.Equal(preferred, stopped);

        await StartBrokerAsync(stopped);
        await ReplicationTests.WaitUntilAsync(() => _brokers.Values.All(b => b.Core.Replicas!.StateOf(Topic, 0) is { Isr.Length: 3 }));
        Assert.NotEqual(preferred, LeaderId());

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = Bootstrap() }).Build();
        var elected = await admin.ElectLeadersAsync(ElectionType.Preferred, [new TopicPartition(Topic, 0)]);
        Assert.Equal(ErrorCode.NoError, elected.TopicPartitions.Single().Error.Code);
        await ReplicationTests.WaitUntilAsync(() => _brokers.Values.All(b => b.Core.Replicas!.StateOf(Topic, 0)?.Leader == preferred));

        // Once it leads, another election is not needed.
        var again = await Assert.ThrowsAsync<ElectLeadersException>(() => admin.ElectLeadersAsync(ElectionType.Preferred, [new TopicPartition(Topic, 0)]));
        Assert.Equal(ErrorCode.ElectionNotNeeded, again.Results.TopicPartitions.Single().Error.Code);

        // The producer follows the leadership back.
        expected.AddRange(await ProduceAsync(producer, 2 * Records, Records));
        Assert.Equal(expected, Consume(expected.Count));
    }

    [Fact]
    public async Task A_reassignment_moves_a_partition_from_brokers_1_2_to_2_3_with_its_records_byte_identical()
    {
        var (producer, expected) = await StartAndProduceAsync([1, 2]);
        using var disposeProducer = producer;
        await using var client = await KafkaWireClient.ConnectAsync(_brokers[2].BootstrapServers);

        // Kafka's errors: an unknown partition, a duplicate replica, a broker that is not registered, a cancellation
        // without a reassignment.
        var errors = await ReassignAsync(client, (Topic, 5, [2, 3]), (Topic, 0, [2, 2]), (Topic, 0, [2, 9]), (Topic, 0, null));
        Assert.Equal([ProtocolError.UnknownTopicOrPartition, ProtocolError.InvalidReplicaAssignment, ProtocolError.InvalidReplicaAssignment, ProtocolError.NoReassignmentInProgress], errors);

        Assert.Equal([ProtocolError.None], await ReassignAsync(client, (Topic, 0, [2, 3])));
        await ReplicationTests.WaitUntilAsync(() => _brokers.Values.All(b => b.Core.Cluster!.TryGetPartition(Topic, 0, out var s)
            && s.Replicas.SequenceEqual([2, 3]) && s.Isr.Order().SequenceEqual([2, 3]) && s.AddingReplicas is null && s.RemovingReplicas is null));
        var listed = await client.SendAsync<ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse>(ApiKey.ListPartitionReassignments, 0, new ListPartitionReassignmentsRequest());
        Assert.Empty(listed.Topics);

        // Broker 1 led and was removed: the leadership moved to a target replica, and broker 3 holds the records.
        var leader = LeaderId();
        Assert.Contains(leader, new[] { 2, 3 });
        await ReplicationTests.WaitUntilAsync(() => Log(_brokers[3]).HighWatermark == Records && _brokers[1].Core.Replicas!.StateOf(Topic, 0) is null);
        Assert.Equal(ReplicationTests.ReadUpTo(Log(_brokers[2]), Records), ReplicationTests.ReadUpTo(Log(_brokers[3]), Records));

        expected.AddRange(await ProduceAsync(producer, Records, Records));
        Assert.Equal(expected, Consume(expected.Count));
    }

    private static async Task<List<ProtocolError>> ReassignAsync(KafkaWireClient client, params (string Topic, int Partition, int[]? Replicas)[] changes)
    {
        var response = await client.SendAsync<AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse>(ApiKey.AlterPartitionReassignments, 1, new AlterPartitionReassignmentsRequest
        {
            Topics = [.. changes.Select(c => new AlterPartitionReassignmentsRequest.ReassignableTopic
            {
                Name = c.Topic,
                Partitions = [new AlterPartitionReassignmentsRequest.ReassignablePartition { PartitionIndex = c.Partition, Replicas = c.Replicas?.ToList() }],
            })],
        });
        Assert.Equal(0, response.ErrorCode);
        return [.. response.Responses.SelectMany(t => t.Partitions).Select(p => (ProtocolError)p.ErrorCode)];
    }

    // Three brokers, the topic with three replicas (or the given ones) all in the ISR, then Records acknowledged
    // acks=all records; every replica's log is byte-identical up to the high watermark.
    private async Task<(IProducer<string, string> Producer, List<string> Acknowledged)> StartAndProduceAsync(int[]? replicas = null)
    {
        foreach (var id in new[] { 1, 2, 3 })
        {
            await StartBrokerAsync(id);
        }

        await ReplicationTests.WaitUntilAsync(() => _brokers.Values.All(b => b.Core.Cluster!.LiveBrokers.Count == 3));
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = Bootstrap() }).Build())
        {
            await admin.CreateTopicsAsync([replicas is null
                ? new TopicSpecification { Name = Topic, NumPartitions = 1, ReplicationFactor = 3 }
                : new TopicSpecification { Name = Topic, NumPartitions = 1, ReplicasAssignments = new() { [0] = [.. replicas] } }]);
        }

        var holders = _brokers.Values.Where(b => replicas is null || replicas.Contains(b.Config.NodeId)).ToList();
        var factor = replicas?.Length ?? 3;
        await ReplicationTests.WaitUntilAsync(() => holders.All(b => b.Core.Replicas!.StateOf(Topic, 0) is { Leader: > 0 } s && s.Isr.Length == factor));
        var producer = Producer();
        var acknowledged = await ProduceAsync(producer, 0, Records);

        await ReplicationTests.WaitUntilAsync(() => holders.All(b => Log(b).HighWatermark == Records));
        var leaderBytes = ReplicationTests.ReadUpTo(Log(_brokers[LeaderId()]), Records);
        Assert.All(holders, b => Assert.Equal(leaderBytes, ReplicationTests.ReadUpTo(Log(b), Records)));
        return (producer, acknowledged);
    }

    // Stops the leader; the controller elects another ISR member and drops the stopped one from the ISR. The same
    // producer (its producer id and sequences replicated to the followers) follows the new leader through Metadata
    // after NOT_LEADER_OR_FOLLOWER and appends Records more. Returns the stopped broker's id.
    private async Task<int> StopLeaderAndProduceAsync(IProducer<string, string> producer, List<string> expected)
    {
        var stopped = LeaderId();
        await _brokers[stopped].StopAsync();
        _brokers.Remove(stopped);
        await ReplicationTests.WaitUntilAsync(() => _brokers.Values.All(b => b.Core.Cluster!.TryGetPartition(Topic, 0, out var s)
            && s.Leader > 0 && s.Leader != stopped && !s.Isr.Contains(stopped) && b.Core.Replicas!.StateOf(Topic, 0)?.Leader == s.Leader));
        expected.AddRange(await ProduceAsync(producer, Records, Records));
        return stopped;
    }

    private async Task StartBrokerAsync(int nodeId)
    {
        var options = new TributaryBrokerOptions { InMemory = false, DataDirectory = Path.Combine(_root, nodeId.ToString(CultureInfo.InvariantCulture)) };
        options.Config["node.id"] = nodeId.ToString(CultureInfo.InvariantCulture);
        options.Config["tributary.metadata.etcd.endpoints"] = fixture.Etcd.Endpoints;
        options.Config["tributary.metadata.etcd.prefix"] = _prefix;
        options.Config["tributary.metadata.etcd.lease.ms"] = "2000";
        _brokers[nodeId] = await TributaryBroker.StartAsync(options);
    }

    private int LeaderId() => _brokers.Values.First().Core.Cluster!.TryGetPartition(Topic, 0, out var state) ? state.Leader : -1;

    private static PartitionLog Log(TributaryBroker broker) => broker.Core.FindLog(broker.Core.Metadata.Find(Topic)!, 0)!;

    private string Bootstrap() => string.Join(',', _brokers.Values.Select(b => b.BootstrapServers));

    private IProducer<string, string> Producer() =>
        new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = Bootstrap(),
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = 0,
            MessageTimeoutMs = 60_000,
        }).Build();

    // Produces "value <from>" … one at a time to partition 0 of the topic; each must be acknowledged.
    internal static async Task<List<string>> ProduceAsync(IProducer<string, string> producer, int from, int count, string topic = Topic)
    {
        var values = new List<string>();
        for (var i = from; i < from + count; i++)
        {
            var value = "value " + i.ToString(CultureInfo.InvariantCulture);
            var delivered = await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = value });
            Assert.Equal(PersistenceStatus.Persisted, delivered.Status);
            values.Add(value);
        }

        return values;
    }

    // Reads the partition from its start until `count` records or the wait ends, whatever broker leads it.
    private List<string> Consume(int count) => Consume(Bootstrap(), Topic, count);

    internal static List<string> Consume(string bootstrapServers, string topic, int count)
    {
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "reader",
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
        var values = new List<string>();
        var deadline = DateTime.UtcNow + WaitMax;
        while (values.Count < count && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false, Message: { } message })
            {
                values.Add(message.Value);
            }
        }

        // Nothing more than what was acknowledged.
        Assert.Null(consumer.Consume(TimeSpan.FromMilliseconds(500)));
        return values;
    }

    public void Dispose()
    {
        foreach (var broker in _brokers.Values)
        {
            broker.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        Directory.Delete(_root, recursive: true);
    }
}
