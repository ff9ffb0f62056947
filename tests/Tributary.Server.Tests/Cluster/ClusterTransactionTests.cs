using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using ErrorCode = Tributary.Protocol.ErrorCode;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// Transactions in cluster mode against a real etcd of 3 members: the partitions of one transaction are led by
/// different brokers, so the transaction coordinator ends it with WriteTxnMarkers to each leader; a read_committed
/// consumer then sees the committed transaction whole and nothing of the aborted one. The transaction coordinator is the
/// leader of <c>__transaction_state</c> and moves with it, with the transactions it loads from the replicated log.
/// </summary>
public sealed class ClusterTransactionTests(EtcdFixture fixture) : IClassFixture<EtcdFixture>, IAsyncLifetime
{
    private const string Topic = "ledger";
    private const int Partitions = 3;
    private static readonly TimeSpan WaitMax = TimeSpan.FromSeconds(60);

    private readonly EtcdBrokers _brokers = new(fixture.Etcd, "txn");

    [Fact]
    public async Task A_transaction_over_partitions_led_by_different_brokers_commits_whole_and_an_aborted_one_stays_invisible()
    {
        await StartWithTopicAsync();
        var leaders = Enumerable.Range(0, Partitions).Select(p => _brokers[1].Core.Replicas!.StateOf(Topic, p)!.Leader).Distinct().Count();
        Assert.True(leaders > 1, "the partitions should be led by more than one broker");

        using var producer = Producer();
        producer.InitTransactions(WaitMax);

        producer.BeginTransaction();
        await ProduceAsync(producer, "committed");
        producer.CommitTransaction(WaitMax);

        producer.BeginTransaction();
        await ProduceAsync(producer, "aborted");
        producer.AbortTransaction(WaitMax);

        var read = ReadCommitted(Partitions);
        Assert.Equal(Enumerable.Range(0, Partitions).Select(p => "committed " + p.ToString(CultureInfo.InvariantCulture)).Order(), read.Order());
    }

    [Fact]
    public async Task A_transaction_open_when_its_coordinator_stops_commits_on_the_new_coordinator_and_stays_atomic()
    {
        await _brokers.StartAllAsync(3);
        using var producer = Producer();
        producer.InitTransactions(WaitMax);
        var coordinator = Leader("__transaction_state");
        Assert.Equal(ErrorCode.None, _brokers[coordinator].Core.Transactions.CoordinatorErrorFor("ledger-writer"));

        // The data partitions live on the two other brokers (led by both), so only the coordinator moves.
        var others = _brokers.Running.Keys.Where(id => id != coordinator).Order().ToArray();
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _brokers.Bootstrap }).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification
            {
                Name = Topic,
                NumPartitions = Partitions,
                ReplicationFactor = -1,
                ReplicasAssignments = Enumerable.Range(0, Partitions).ToDictionary(p => p, p => p % 2 == 0 ? others.ToList() : others.Reverse().ToList()),
            }]);
        }

        await ReplicationTests.WaitUntilAsync(() => others.All(id => Enumerable.Range(0, Partitions).All(p => _brokers[id].Core.Replicas!.StateOf(Topic, p) is { Isr.Length: 2, Leader: > 0 })));
        producer.BeginTransaction();
        await ProduceAsync(producer, "first");
        producer.CommitTransaction(WaitMax);

        // A transaction open (its partitions recorded in __transaction_state) when the coordinator stops: the new
        // leader of __transaction_state loads it, and the commit completes there.
        producer.BeginTransaction();
        await ProduceAsync(producer, "second");
        await _brokers.StopAsync(coordinator);
        await ReplicationTests.WaitUntilAsync(() => Leader("__transaction_state") is var leader and > 0 && leader != coordinator
            && _brokers[leader].Core.Transactions.CoordinatorErrorFor("ledger-writer") == ErrorCode.None);
        producer.CommitTransaction(WaitMax);

        producer.BeginTransaction();
        await ProduceAsync(producer, "third");
        producer.AbortTransaction(WaitMax);

        var read = ReadCommitted(2 * Partitions);
        var expected = new[] { "first", "second" }.SelectMany(label => Enumerable.Range(0, Partitions).Select(p => label + " " + p.ToString(CultureInfo.InvariantCulture)));
        Assert.Equal(expected.Order(), read.Order());
    }

    private async Task StartWithTopicAsync()
    {
        await _brokers.StartAllAsync(3);
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _brokers.Bootstrap }).Build();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = Topic, NumPartitions = Partitions, ReplicationFactor = 3 }]);
        await ReplicationTests.WaitUntilAsync(() => _brokers.Running.Values.All(b => Enumerable.Range(0, Partitions).All(p => b.Core.Replicas!.StateOf(Topic, p) is { Isr.Length: 3, Leader: > 0 })));
    }

    // The leader of the partition of the coordinator topic that holds the producer's transactional id.
    private int Leader(string topic) => _brokers.Running.Values.First().Core is var core
        && core.Cluster!.TryGetPartition(topic, core.CoordinatorPartitionFor(topic, "ledger-writer"), out var state) ? state.Leader : -1;

    private IProducer<string, string> Producer() => new ProducerBuilder<string, string>(new ProducerConfig
    {
        BootstrapServers = _brokers.Bootstrap,
        TransactionalId = "ledger-writer",
        Acks = Acks.All,
        LingerMs = 0,
    }).Build();

    // One record per partition, all in the producer's open transaction.
    private static async Task ProduceAsync(IProducer<string, string> producer, string label)
    {
        for (var p = 0; p < Partitions; p++)
        {
            var value = label + " " + p.ToString(CultureInfo.InvariantCulture);
            await producer.ProduceAsync(new TopicPartition(Topic, p), new Message<string, string> { Key = "k", Value = value });
        }
    }

    // Reads every partition read_committed from the start until `count` records or the wait ends, then makes sure
    // nothing more arrives.
    private List<string> ReadCommitted(int count)
    {
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = _brokers.Bootstrap,
            GroupId = "auditor",
            IsolationLevel = IsolationLevel.ReadCommitted,
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(Topic, p, Offset.Beginning)));
        var values = new List<string>();
        var deadline = DateTime.UtcNow + WaitMax;
        while (values.Count < count && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false, Message: { } message })
            {
                values.Add(message.Value);
            }
        }

        Assert.Null(consumer.Consume(TimeSpan.FromSeconds(1)));
        return values;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _brokers.DisposeAsync();
}
