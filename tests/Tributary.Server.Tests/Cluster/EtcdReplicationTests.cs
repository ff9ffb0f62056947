using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Storage;

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

        // It follows the new leader, fetches what it missed and is taken back into the ISR.
        // (ISR changes alone are not roles: the followers' replica managers keep the ISR they were given, so the
        // cluster metadata is asked.)
        await ReplicationTests.WaitUntilAsync(() => _brokers.Values.All(b => b.Core.Cluster!.TryGetPartition(Topic, 0, out var s) && s.Isr.Length == 3)
            && Log(_brokers[stopped]).HighWatermark == 2 * Records);
        Assert.Equal(leader.Config.NodeId, _brokers[stopped].Core.Replicas!.StateOf(Topic, 0)!.Leader);
        var leaderLog = Log(leader);
        Assert.Equal(ReplicationTests.ReadUpTo(leaderLog, leaderLog.HighWatermark), ReplicationTests.ReadUpTo(Log(_brokers[stopped]), leaderLog.HighWatermark));
        Assert.Equal(expected, Consume(expected.Count));
    }

    // Three brokers, the topic with three replicas all in the ISR, then Records acknowledged acks=all records; every
    // broker's log is byte-identical up to the high watermark.
    private async Task<(IProducer<string, string> Producer, List<string> Acknowledged)> StartAndProduceAsync()
    {
        foreach (var id in new[] { 1, 2, 3 })
        {
            await StartBrokerAsync(id);
        }

        await ReplicationTests.WaitUntilAsync(() => _brokers.Values.All(b => b.Core.Cluster!.LiveBrokers.Count == 3));
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = Bootstrap() }).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = Topic, NumPartitions = 1, ReplicationFactor = 3 }]);
        }

        await ReplicationTests.WaitUntilAsync(() => _brokers.Values.All(b => b.Core.Replicas!.StateOf(Topic, 0) is { Isr.Length: 3, Leader: > 0 }));
        var producer = Producer();
        var acknowledged = await ProduceAsync(producer, 0, Records);

        await ReplicationTests.WaitUntilAsync(() => _brokers.Values.All(b => Log(b).HighWatermark == Records));
        var leaderBytes = ReplicationTests.ReadUpTo(Log(_brokers[LeaderId()]), Records);
        Assert.All(_brokers.Values, b => Assert.Equal(leaderBytes, ReplicationTests.ReadUpTo(Log(b), Records)));
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

    private int LeaderId() => _brokers.Values.First().Core.Replicas!.StateOf(Topic, 0)!.Leader;

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

    private static async Task<List<string>> ProduceAsync(IProducer<string, string> producer, int from, int count)
    {
        var values = new List<string>();
        for (var i = from; i < from + count; i++)
        {
            var value = "value " + i.ToString(CultureInfo.InvariantCulture);
            var delivered = await producer.ProduceAsync(Topic, new Message<string, string> { Key = "k", Value = value });
            Assert.Equal(PersistenceStatus.Persisted, delivered.Status);
            values.Add(value);
        }

        return values;
    }

    // Reads the partition from its start until `count` records or the wait ends, whatever broker leads it.
    private List<string> Consume(int count)
    {
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = Bootstrap(),
            GroupId = "reader",
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new TopicPartitionOffset(Topic, 0, Offset.Beginning));
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
