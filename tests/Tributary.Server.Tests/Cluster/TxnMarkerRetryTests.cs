using System.Collections.Concurrent;
using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Broker.Transactions;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// Transaction markers in cluster mode against a real etcd of 3 members: when the leader of a transaction's partition
/// does not take its marker, the committed transaction stays PrepareCommit while the coordinator sends the marker
/// again in the background, follows the partition to its new leader, and completes there without any request of the
/// producer, as Kafka's TransactionMarkerChannelManager does.
/// </summary>
public sealed class TxnMarkerRetryTests(EtcdFixture fixture) : IClassFixture<EtcdFixture>, IAsyncLifetime
{
    private const string Topic = "moved";
    private const string TransactionalId = "mover";
    private static readonly TimeSpan WaitMax = TimeSpan.FromSeconds(60);

    private readonly EtcdBrokers _brokers = new(fixture.Etcd, "marker");

    [Fact]
    public async Task A_marker_its_leader_refused_is_sent_again_to_the_new_leader_and_the_transaction_completes()
    {
        await _brokers.StartAllAsync(3);
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = _brokers.Bootstrap,
            TransactionalId = TransactionalId,
            Acks = Acks.All,
            LingerMs = 0,
        }).Build();
        producer.InitTransactions(WaitMax);
        var coordinator = Coordinator();
        var (refusing, next) = _brokers.Running.Keys.Where(id => id != coordinator).Order().ToArray() switch { [var a, var b] => (a, b), _ => throw new InvalidOperationException() };
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _brokers.Bootstrap }).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = Topic, NumPartitions = 1, ReplicationFactor = -1, ReplicasAssignments = new() { [0] = [refusing, next] } }]);
        }

        await ReplicationTests.WaitUntilAsync(() => _brokers[coordinator].Core.Cluster!.TryGetPartition(Topic, 0, out var s) && s.Isr.Length == 2);

        // The coordinator's WriteTxnMarkers to the partition's first leader fail, as to a leader that stopped answering.
        var core = _brokers[coordinator].Core;
        var wire = core.TxnMarkerSender!;
        var sentTo = new ConcurrentQueue<int>();
        core.TxnMarkerSender = (leader, request, cancellationToken) =>
        {
            sentTo.Enqueue(leader.NodeId);
            return leader.NodeId == refusing ? throw new IOException("connection refused (test)") : wire(leader, request, cancellationToken);
        };

        producer.BeginTransaction();
        for (var i = 0; i < 3; i++)
        {
            await producer.ProduceAsync(Topic, new Message<string, string> { Key = "k", Value = i.ToString(CultureInfo.InvariantCulture) });
        }

        producer.CommitTransaction(WaitMax);
        Assert.Equal(TransactionState.PrepareCommit, core.Transactions.Describe(TransactionalId)!.State);
        Assert.Equal(1, core.Transactions.MarkersPending);
        await ReplicationTests.WaitUntilAsync(() => sentTo.Count(id => id == refusing) >= 3);
        Assert.Equal(TransactionState.PrepareCommit, core.Transactions.Describe(TransactionalId)!.State);

        // The partition moves to the other replica; the next round sends the marker there.
        await _brokers.StopAsync(refusing);
        await ReplicationTests.WaitUntilAsync(() => core.Transactions.Describe(TransactionalId)!.State == TransactionState.CompleteCommit);
        Assert.Contains(next, sentTo);
        Assert.Equal(0, core.Transactions.MarkersPending);
        Assert.Equal(next, Leader(Topic));

        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = _brokers.Bootstrap,
            GroupId = "checker",
            IsolationLevel = IsolationLevel.ReadCommitted,
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new TopicPartitionOffset(Topic, 0, Offset.Beginning));
        var read = new List<string>();
        var deadline = DateTime.UtcNow + WaitMax;
        while (read.Count < 3 && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false, Message: { } message })
            {
                read.Add(message.Value);
            }
        }

        Assert.Equal(["0", "1", "2"], read);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _brokers.DisposeAsync();

    private int Leader(string topic) => _brokers.Running.Values.First().Core.Cluster!.TryGetPartition(topic, 0, out var state) ? state.Leader : -1;

    // The leader of the partition of __transaction_state that holds the transactional id.
    private int Coordinator() => _brokers.Running.Values.First().Core is var core
        && core.Cluster!.TryGetPartition("__transaction_state", core.CoordinatorPartitionFor("__transaction_state", TransactionalId), out var state) ? state.Leader : -1;
}
