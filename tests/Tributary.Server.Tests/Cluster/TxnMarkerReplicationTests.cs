using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Broker.Transactions;
using Tributary.Protocol;
using ErrorCode = Tributary.Protocol.ErrorCode;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// Transaction markers in cluster mode against a real etcd of 3 members: a partition's leader counts a marker written
/// only once its ISR has it, as Kafka appends markers with acks=all. A marker that only the leader held would be lost
/// with it: the next leader's copy of the transaction would stay open for good (read_committed readers stuck at it)
/// while the coordinator called it complete.
/// </summary>
public sealed class TxnMarkerReplicationTests(EtcdFixture fixture) : IClassFixture<EtcdFixture>, IAsyncLifetime
{
    private const string Topic = "isr-marker";
    private const string TransactionalId = "isr-marker";
    private static readonly TimeSpan WaitMax = TimeSpan.FromSeconds(60);

    private readonly EtcdBrokers _brokers = new(fixture.Etcd, "isrmarker");

    [Fact]
    public async Task A_transaction_stays_prepared_until_its_partitions_followers_have_the_marker()
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
        var coordinator = Leader("__transaction_state");
        var (leader, follower) = _brokers.Running.Keys.Where(id => id != coordinator).Order().ToArray() switch { [var a, var b] => (a, b), _ => throw new InvalidOperationException() };
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _brokers.Bootstrap }).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification
            {
                Name = Topic,
                NumPartitions = 1,
                ReplicationFactor = -1,
                ReplicasAssignments = new() { [0] = [leader, follower] },
                Configs = new() { ["min.insync.replicas"] = "2" },
            }]);
        }

        var core = _brokers[coordinator].Core;
        await ReplicationTests.WaitUntilAsync(() => core.Cluster!.TryGetPartition(Topic, 0, out var s) && s.Leader == leader && s.Isr.Length == 2);
        producer.BeginTransaction();
        for (var i = 0; i < 3; i++)
        {
            await producer.ProduceAsync(Topic, new Message<string, string> { Key = "k", Value = i.ToString(CultureInfo.InvariantCulture) });
        }

        // The follower stops getting anything from the leader (its fetches answered with an error): the leader appends
        // the marker, but its ISR never takes it.
        _brokers[leader].Intercept(ApiKey.Fetch, context => context.ClientId == $"broker-{follower}-fetcher-0" ? new(ErrorCode.UnknownServerError) : default);
        producer.CommitTransaction(WaitMax);

        Assert.Equal(TransactionState.PrepareCommit, core.Transactions.Describe(TransactionalId)!.State);
        Assert.Equal(1, core.Transactions.MarkersPending);

        // The follower fetches again and catches up: the marker sent again is written and the transaction completes.
        _brokers[leader].ClearIntercepts();
        // On a loaded machine the coordinator may move meanwhile (a lease lost): the new one completes the transaction.
        await ReplicationTests.WaitUntilAsync(() => _brokers.Running.Values.Any(b => b.Core.Transactions.Describe(TransactionalId)?.State == TransactionState.CompleteCommit));
        Assert.Equal(0, _brokers.Running.Values.First(b => b.Core.Transactions.Describe(TransactionalId)?.State == TransactionState.CompleteCommit).Core.Transactions.MarkersPending);

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

    // The leader of the partition of the coordinator topic that holds the transactional id.
    private int Leader(string topic) => _brokers.Running.Values.First().Core is var core
        && core.Cluster!.TryGetPartition(topic, core.CoordinatorPartitionFor(topic, TransactionalId), out var state) ? state.Leader : -1;
}
