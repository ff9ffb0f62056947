using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// Transactions in cluster mode against a real etcd of 3 members: the partitions of one transaction are led by
/// different brokers, so the transaction coordinator ends it with WriteTxnMarkers to each leader; a read_committed
/// consumer then sees the committed transaction whole and nothing of the aborted one.
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
        await _brokers.StartAllAsync(3);
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _brokers.Bootstrap }).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = Topic, NumPartitions = Partitions, ReplicationFactor = 3 }]);
        }

        await ReplicationTests.WaitUntilAsync(() => _brokers.Running.Values.All(b => Enumerable.Range(0, Partitions).All(p => b.Core.Replicas!.StateOf(Topic, p) is { Isr.Length: 3, Leader: > 0 })));
        var leaders = Enumerable.Range(0, Partitions).Select(p => _brokers[1].Core.Replicas!.StateOf(Topic, p)!.Leader).Distinct().Count();
        Assert.True(leaders > 1, "the partitions should be led by more than one broker");

        using var producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = _brokers.Bootstrap,
            TransactionalId = "ledger-writer",
            Acks = Acks.All,
            LingerMs = 0,
        }).Build();
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
