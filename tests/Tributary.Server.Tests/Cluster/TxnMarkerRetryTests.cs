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
/// producer, as Kafka's TransactionMarkerChannelManager does. The coordinator does not hold its lock while a marker
/// waits; its markers carry its coordinator epoch (the leader epoch of the id's __transaction_state partition), which
/// partition leaders and their followers keep, so a deposed coordinator's markers are fenced.
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

    [Fact]
    public async Task A_marker_waiting_for_its_leader_holds_up_no_other_transactional_id_and_carries_the_coordinator_epoch()
    {
        const string waitingTopic = "waiting";
        await _brokers.StartAllAsync(3);
        await InitTransactionsAsync("held");
        var coordinator = Coordinator("held");
        var core = _brokers[coordinator].Core;
        var free = IdCoordinatedBy(coordinator);
        var (slow, other) = _brokers.Running.Keys.Where(id => id != coordinator).Order().ToArray() switch { [var a, var b] => (a, b), _ => throw new InvalidOperationException() };
        await CreateTopicAsync(waitingTopic, [slow, other]);
        await ReplicationTests.WaitUntilAsync(() => core.Cluster!.TryGetPartition(waitingTopic, 0, out var s) && s.Leader == slow && s.Isr.Length == 2);
        var transactions = core.Transactions;
        await ReplicationTests.WaitUntilAsync(() => transactions.CoordinatorErrorFor("held") == Protocol.ErrorCode.None && transactions.CoordinatorErrorFor(free) == Protocol.ErrorCode.None);

        // The WriteTxnMarkers to the partition's leader does not return until the test lets it (or WaitMax passes,
        // which only a coordinator that holds its lock meanwhile makes happen).
        var wire = core.TxnMarkerSender!;
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var senderTimedOut = false;
        core.TxnMarkerSender = (leader, request, cancellationToken) =>
        {
            if (leader.NodeId == slow && !release.IsSet)
            {
                entered.Set();
                senderTimedOut = !release.Wait(WaitMax);
            }

            return wire(leader, request, cancellationToken);
        };

        var (error, producerId, epoch) = transactions.InitProducerId("held", 60_000, -1, -1, fencedErrorSupported: true);
        Assert.Equal(Protocol.ErrorCode.None, error);
        var added = transactions.AddPartitions("held", producerId, epoch, [(waitingTopic, 0)], verifyOnly: false, fencedErrorSupported: true).Results.Values;
        Assert.All(added, e => Assert.Equal(Protocol.ErrorCode.None, e));
        var end = Task.Run(() => transactions.EndTransaction("held", producerId, epoch, commit: true, fencedErrorSupported: true));
        Assert.True(entered.Wait(WaitMax), "the coordinator never sent the marker");

        // While the marker waits: another transactional id of the same coordinator starts a transaction; this one is
        // still prepared, and its own requests say so.
        var (otherError, otherId, otherEpoch) = transactions.InitProducerId(free, 60_000, -1, -1, fencedErrorSupported: true);
        var otherAdded = transactions.AddPartitions(free, otherId, otherEpoch, [(waitingTopic, 0)], verifyOnly: false, fencedErrorSupported: true).Results.Values;
        var heldState = transactions.Describe("held")!.State;
        var heldEnd = transactions.EndTransaction("held", producerId, epoch, commit: true, fencedErrorSupported: true);
        var heldInit = transactions.InitProducerId("held", 60_000, producerId, epoch, fencedErrorSupported: true).Error;
        var heldAdd = transactions.AddPartitions("held", producerId, epoch, [(waitingTopic, 0)], verifyOnly: false, fencedErrorSupported: true).Error;
        release.Set();

        Assert.False(senderTimedOut, "requests of another transactional id waited for the marker");
        Assert.Equal(Protocol.ErrorCode.None, otherError);
        Assert.All(otherAdded, e => Assert.Equal(Protocol.ErrorCode.None, e));
        Assert.Equal(TransactionState.PrepareCommit, heldState);
        Assert.Equal(Protocol.ErrorCode.ConcurrentTransactions, heldEnd);
        Assert.Equal(Protocol.ErrorCode.ConcurrentTransactions, heldInit);
        Assert.Equal(Protocol.ErrorCode.ConcurrentTransactions, heldAdd);
        Assert.Equal(Protocol.ErrorCode.None, await end);
        Assert.Equal(TransactionState.CompleteCommit, transactions.Describe("held")!.State);

        // The marker carries the coordinator epoch: the leader epoch of the id's partition of __transaction_state.
        Assert.Equal(StatePartitionOf("held").LeaderEpoch, transactions.CoordinatorEpochFor("held"));
        Assert.Equal(transactions.CoordinatorEpochFor("held"), ProducerOn(slow, waitingTopic, producerId)!.CoordinatorEpoch);
    }

    [Fact]
    public async Task After_the_coordinator_moves_its_markers_carry_the_new_epoch_and_the_old_epoch_is_fenced_on_the_leader_and_its_follower()
    {
        const string dataTopic = "fenced";
        await _brokers.StartAllAsync(3);
        await InitTransactionsAsync(TransactionalId);
        var first = Coordinator(TransactionalId);
        var firstEpoch = StatePartitionOf(TransactionalId).LeaderEpoch;
        var replicas = _brokers.Running.Keys.Where(id => id != first).Order().ToArray();
        await CreateTopicAsync(dataTopic, replicas);

        // The coordinator's broker stops: another replica of the id's partition leads it at a newer epoch.
        await _brokers.StopAsync(first);
        await ReplicationTests.WaitUntilAsync(() => Coordinator(TransactionalId) is var c and > 0 && c != first);
        var coordinator = Coordinator(TransactionalId);
        var transactions = _brokers[coordinator].Core.Transactions;
        await ReplicationTests.WaitUntilAsync(() => transactions.CoordinatorErrorFor(TransactionalId) == Protocol.ErrorCode.None);
        var epoch = StatePartitionOf(TransactionalId).LeaderEpoch;
        Assert.True(epoch > firstEpoch, $"the coordinator's partition stayed at leader epoch {firstEpoch}");
        Assert.Equal(epoch, transactions.CoordinatorEpochFor(TransactionalId));

        var (error, producerId, producerEpoch) = transactions.InitProducerId(TransactionalId, 60_000, -1, -1, fencedErrorSupported: true);
        Assert.Equal(Protocol.ErrorCode.None, error);
        Assert.All(transactions.AddPartitions(TransactionalId, producerId, producerEpoch, [(dataTopic, 0)], verifyOnly: false, fencedErrorSupported: true).Results.Values, e => Assert.Equal(Protocol.ErrorCode.None, e));
        Assert.Equal(Protocol.ErrorCode.None, transactions.EndTransaction(TransactionalId, producerId, producerEpoch, commit: true, fencedErrorSupported: true));
        Assert.Equal(TransactionState.CompleteCommit, transactions.Describe(TransactionalId)!.State);

        // The partition's leader and, through replication, its follower keep the marker's coordinator epoch.
        var leader = Leader(dataTopic);
        var follower = replicas.Single(id => id != leader);
        Assert.Equal(epoch, ProducerOn(leader, dataTopic, producerId)!.CoordinatorEpoch);
        await ReplicationTests.WaitUntilAsync(() => ProducerOn(follower, dataTopic, producerId)?.CoordinatorEpoch == epoch);

        // A marker of the first coordinator's epoch is fenced by the leader, and, once the leader stops, by the follower
        // that takes over.
        Assert.Equal(Protocol.ErrorCode.TransactionCoordinatorFenced, await SendMarkerAsync(leader, dataTopic, producerId, producerEpoch, firstEpoch));
        await _brokers.StopAsync(leader);
        await ReplicationTests.WaitUntilAsync(() => Leader(dataTopic) == follower);
        Assert.Equal(Protocol.ErrorCode.TransactionCoordinatorFenced, await SendMarkerAsync(follower, dataTopic, producerId, producerEpoch, firstEpoch));
        Assert.Equal(Protocol.ErrorCode.None, await SendMarkerAsync(follower, dataTopic, producerId, producerEpoch, epoch));
    }

    [Fact]
    public async Task A_coordinator_whose_markers_a_newer_coordinator_fenced_stops_sending_them_and_the_producer_finds_its_coordinator_again()
    {
        await _brokers.StartAllAsync(3);
        await InitTransactionsAsync(TransactionalId);
        var coordinator = Coordinator(TransactionalId);
        var core = _brokers[coordinator].Core;
        var (slow, other) = _brokers.Running.Keys.Where(id => id != coordinator).Order().ToArray() switch { [var a, var b] => (a, b), _ => throw new InvalidOperationException() };
        await CreateTopicAsync(Topic, [slow, other]);
        await ReplicationTests.WaitUntilAsync(() => core.Cluster!.TryGetPartition(Topic, 0, out var s) && s.Leader == slow && s.Isr.Length == 2);
        var transactions = core.Transactions;
        await ReplicationTests.WaitUntilAsync(() => transactions.CoordinatorErrorFor(TransactionalId) == Protocol.ErrorCode.None);

        // The marker does not reach the partition's leader at first: the transaction stays prepared, retried.
        var wire = core.TxnMarkerSender!;
        var refusing = true;
        var fencedAnswers = 0;
        core.TxnMarkerSender = async (leader, request, cancellationToken) =>
        {
            if (Volatile.Read(ref refusing))
            {
                throw new IOException("connection refused (test)");
            }

            var response = await wire(leader, request, cancellationToken);
            if (response.Markers.SelectMany(m => m.Topics).SelectMany(t => t.Partitions).Any(p => p.ErrorCode == (short)Protocol.ErrorCode.TransactionCoordinatorFenced))
            {
                Interlocked.Increment(ref fencedAnswers);
            }

            return response;
        };

        var (error, producerId, producerEpoch) = transactions.InitProducerId(TransactionalId, 60_000, -1, -1, fencedErrorSupported: true);
        Assert.Equal(Protocol.ErrorCode.None, error);
        Assert.All(transactions.AddPartitions(TransactionalId, producerId, producerEpoch, [(Topic, 0)], verifyOnly: false, fencedErrorSupported: true).Results.Values, e => Assert.Equal(Protocol.ErrorCode.None, e));
        Assert.Equal(Protocol.ErrorCode.None, transactions.EndTransaction(TransactionalId, producerId, producerEpoch, commit: true, fencedErrorSupported: true));
        Assert.Equal(1, transactions.MarkersPending);

        // Meanwhile a coordinator of a newer epoch aborted the transaction on the partition; then the leader answers.
        var ownEpoch = transactions.CoordinatorEpochFor(TransactionalId);
        Assert.Equal(Protocol.ErrorCode.None, await SendMarkerAsync(slow, Topic, producerId, producerEpoch, ownEpoch + 1, commit: false));
        var end = _brokers[slow].Core.FindLog(_brokers[slow].Core.Metadata.Find(Topic)!, 0)!.LogEndOffset;
        Volatile.Write(ref refusing, false);

        // This coordinator's next round is fenced: it stops sending, leaves the transaction prepared, writes nothing, and
        // answers the id's requests NOT_COORDINATOR so that the producer looks its coordinator up again.
        await ReplicationTests.WaitUntilAsync(() => transactions.MarkersPending == 0);
        Assert.Equal(1, Volatile.Read(ref fencedAnswers));
        Assert.Equal(TransactionState.PrepareCommit, transactions.Describe(TransactionalId)!.State);
        Assert.Equal(end, _brokers[slow].Core.FindLog(_brokers[slow].Core.Metadata.Find(Topic)!, 0)!.LogEndOffset);
        Assert.Equal(Protocol.ErrorCode.NotCoordinator, transactions.EndTransaction(TransactionalId, producerId, producerEpoch, commit: true, fencedErrorSupported: true));
        Assert.Equal(Protocol.ErrorCode.NotCoordinator, transactions.InitProducerId(TransactionalId, 60_000, producerId, producerEpoch, fencedErrorSupported: true).Error);
        Assert.Equal(1, Volatile.Read(ref fencedAnswers));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _brokers.DisposeAsync();

    private int Leader(string topic) => _brokers.Running.Values.First().Core.Cluster!.TryGetPartition(topic, 0, out var state) ? state.Leader : -1;

    // The leader of the partition of __transaction_state that holds the transactional id.
    private int Coordinator(string transactionalId = TransactionalId) => StatePartitionOf(transactionalId) is { } state ? state.Leader : -1;

    private Broker.Cluster.PartitionState StatePartitionOf(string transactionalId) => _brokers.Running.Values.First().Core is var core
        && core.Cluster!.TryGetPartition("__transaction_state", core.CoordinatorPartitionFor("__transaction_state", transactionalId), out var state) ? state : null!;

    // A transactional id whose partition of __transaction_state the broker leads.
    private string IdCoordinatedBy(int broker) =>
        Enumerable.Range(0, 10_000).Select(i => "free-" + i.ToString(CultureInfo.InvariantCulture)).First(id => Coordinator(id) == broker);

    // A client's InitTransactions: the cluster creates __transaction_state and elects its leaders.
    private async Task InitTransactionsAsync(string transactionalId)
    {
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = _brokers.Bootstrap, TransactionalId = transactionalId }).Build();
        await Task.Run(() => producer.InitTransactions(WaitMax));
    }

    private async Task CreateTopicAsync(string topic, int[] replicas)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _brokers.Bootstrap }).Build();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 1, ReplicationFactor = -1, ReplicasAssignments = new() { [0] = [.. replicas] } }]);
    }

    private Storage.Producers.ProducerStateInfo? ProducerOn(int broker, string topic, long producerId) =>
        _brokers[broker].Core is var core && core.Metadata.Find(topic) is { } info && core.FindLog(info, 0) is { } log
            ? log.Producers.ActiveProducers().SingleOrDefault(p => p.ProducerId == producerId)
            : null;

    // WriteTxnMarkers to a broker over its inter-broker listener, as a coordinator of that epoch sends it (the target's
    // own sender: the tests replace only the coordinator's).
    private async Task<Protocol.ErrorCode> SendMarkerAsync(int broker, string topic, long producerId, short producerEpoch, int coordinatorEpoch, bool commit = true)
    {
        var sender = _brokers[broker].Core;
        Assert.True(sender.Cluster!.TryGetBroker(broker, out var node));
        var response = await sender.TxnMarkerSender!(node, new Protocol.Messages.WriteTxnMarkersRequest
        {
            Markers =
            [
                new Protocol.Messages.WriteTxnMarkersRequest.WritableTxnMarker
                {
                    ProducerId = producerId,
                    ProducerEpoch = producerEpoch,
                    TransactionResult = commit,
                    CoordinatorEpoch = coordinatorEpoch,
                    Topics = [new Protocol.Messages.WriteTxnMarkersRequest.WritableTxnMarkerTopic { Name = topic, PartitionIndexes = [0] }],
                },
            ],
        }, CancellationToken.None);
        return (Protocol.ErrorCode)response.Markers.Single().Topics.Single().Partitions.Single().ErrorCode;
    }
}
