using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// auto.leader.rebalance.enable against a real etcd of 3 members: a broker that stopped (its leadership moved to
/// another in-sync replica) and came back gets the leadership of the partition it prefers back from the controller
/// once it is in sync again, without an ElectLeaders request, as Kafka's controller does.
/// </summary>
public sealed class LeaderRebalanceTests(EtcdFixture fixture) : IClassFixture<EtcdFixture>, IAsyncLifetime
{
    private const string Topic = "balanced";
    private const int Returning = 1;

    private readonly EtcdBrokers _brokers = new(fixture.Etcd, "rebalance");

    [Fact]
    public async Task The_controller_moves_leadership_back_to_the_preferred_replica_once_it_is_in_sync_again()
    {
        static void Configure(int id, TributaryBrokerOptions options) => options.Config["leader.imbalance.check.interval.seconds"] = "1";
        await _brokers.StartAllAsync(3, Configure);
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _brokers.Bootstrap }).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification
            {
                Name = Topic,
                NumPartitions = 3,
                ReplicationFactor = -1,
                ReplicasAssignments = new() { [0] = [1, 2, 3], [1] = [2, 3, 1], [2] = [3, 1, 2] },
            }]);
        }

        await ReplicationTests.WaitUntilAsync(() => Enumerable.Range(0, 3).All(p => State(2, p) is { Isr.Length: 3 } s && s.Leader == s.Replicas[0]));

        // Broker 1 stops: partition 0 moves to another in-sync replica, and stays there while broker 1 is away.
        await _brokers.StopAsync(Returning);
        await ReplicationTests.WaitUntilAsync(() => State(2, 0) is { } s && s.Leader != Returning && s.Leader > 0);

        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = _brokers.Bootstrap, Acks = Acks.All }).Build())
        {
            await producer.ProduceAsync(new TopicPartition(Topic, 0), new Message<string, string> { Key = "k", Value = "while away" });
        }

        // Back on its data, it catches up, rejoins the ISR, and the controller makes it leader again.
        await _brokers.StartAsync(Returning, Configure);
        await ReplicationTests.WaitUntilAsync(() => State(2, 0) is { Leader: Returning, Isr.Length: 3 });
        Assert.All(Enumerable.Range(0, 3), p => Assert.Equal(State(2, p)!.Replicas[0], State(2, p)!.Leader));
        await ReplicationTests.WaitUntilAsync(() => _brokers[Returning].Core.Replicas!.StateOf(Topic, 0) is { Leader: Returning });
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _brokers.DisposeAsync();

    private Broker.Cluster.PartitionState? State(int broker, int partition) =>
        _brokers[broker].Core.Cluster!.TryGetPartition(Topic, partition, out var state) ? state : null;
}
