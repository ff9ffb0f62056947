using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// The embeddable <see cref="TributaryCluster"/> (its own etcd of 3 members and 3 brokers) and its faults, with
/// Confluent.Kafka: an acks=all idempotent producer fails over when the leader is killed or paused, and an isolated
/// follower leaves the ISR and comes back once healed; every acknowledged record is read once, in order.
/// </summary>
public sealed class TributaryClusterTests
{
    private const string Topic = "failover";
    private const int Records = 20;

    [Fact]
    public async Task A_producer_fails_over_when_the_leader_is_killed_and_the_killed_broker_rejoins()
    {
        await using var cluster = await TributaryCluster.StartAsync(brokers: 3);
        using var producer = await CreateTopicAndProducerAsync(cluster);
        var expected = await ProduceAsync(producer, 0, Records);

        var killed = cluster.LeaderOf(Topic, 0);
        await cluster.KillBrokerAsync(killed);

        // The lease ends on its own; the controller elects another ISR member, and the producer moves to it.
        await cluster.WaitAsync(() => cluster.LeaderOf(Topic, 0) is var leader && leader > 0 && leader != killed);
        expected.AddRange(await ProduceAsync(producer, Records, Records));

        await cluster.StartBrokerAsync(killed);
        await cluster.WaitAsync(() => cluster.Brokers.Values.All(b => b.Core.Replicas!.StateOf(Topic, 0) is { Isr.Length: 3 }));
        Assert.Equal(expected, Consume(cluster, expected.Count));
    }

    [Fact]
    public async Task A_leader_restarted_with_an_empty_disk_within_its_lease_follows_and_replicates_again()
    {
        await using var cluster = await TributaryCluster.StartAsync(brokers: 3);
        using var producer = await CreateTopicAndProducerAsync(cluster);
        var expected = await ProduceAsync(producer, 0, Records);

        var wiped = cluster.LeaderOf(Topic, 0);
        var observer = cluster.Brokers.Keys.First(id => id != wiped);
        Assert.True(cluster.Broker(observer).Core.Cluster!.TryGetPartition(Topic, 0, out var before));
        await cluster.KillBrokerAsync(wiped);
        Directory.Delete(cluster.DataDirectory(wiped), recursive: true);

        // Started again at once, inside its lease: it registers anew once the old lease ends (a new incarnation),
        // so the controller moves its leadership to a replica that has the records and then admits it.
        await cluster.StartBrokerAsync(wiped);
        await cluster.WaitAsync(() => cluster.Broker(observer).Core.Cluster!.IsAdmitted(wiped)
            && cluster.Brokers.Values.All(b => b.Core.Replicas!.StateOf(Topic, 0) is { Isr.Length: 3 } s && s.Leader != wiped && s.LeaderEpoch > before.LeaderEpoch));
        expected.AddRange(await ProduceAsync(producer, Records, Records));
        Assert.Equal(expected, Consume(cluster, expected.Count));

        // The wiped replica holds the same bytes as the leader up to the high watermark.
        var leader = cluster.Broker(cluster.LeaderOf(Topic, 0));
        await cluster.WaitAsync(() => cluster.Brokers.Values.All(b => PartitionLog(b).HighWatermark == expected.Count));
        var leaderBytes = ReplicationTests.ReadUpTo(PartitionLog(leader), expected.Count);
        Assert.Equal(leaderBytes, ReplicationTests.ReadUpTo(PartitionLog(cluster.Broker(wiped)), expected.Count));
    }

    [Fact]
    public async Task A_restart_the_controller_missed_still_moves_the_leadership_off_the_empty_broker()
    {
        await using var cluster = await TributaryCluster.StartAsync(brokers: 3, configure: (_, options) => options.Config["tributary.metadata.etcd.lease.ms"] = "8000");
        var controller = cluster.Broker(1).Core.Cluster!.ControllerId;
        var wiped = cluster.Brokers.Keys.First(id => id != controller);
        var observer = cluster.Brokers.Keys.First(id => id != controller && id != wiped);
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = Topic, NumPartitions = 1, ReplicasAssignments = new() { [0] = [wiped, controller, observer] } }]);
        }

        await cluster.WaitAsync(() => cluster.Brokers.Values.All(b => b.Core.Replicas!.StateOf(Topic, 0) is { Isr.Length: 3 } s && s.Leader == wiped));
        using var producer = ReplicatedProducer(cluster);
        var expected = await ProduceAsync(producer, 0, Records);
        Assert.True(cluster.Broker(observer).Core.Cluster!.TryGetPartition(Topic, 0, out var before));

        // The controller is frozen (shorter than its lease) while the wiped leader's old lease ends and it registers
        // again, so it sees the broker go and come back together and never finds it dead.
        await cluster.KillBrokerAsync(wiped);
        Directory.Delete(cluster.DataDirectory(wiped), recursive: true);
        await Task.Delay(3000);
        cluster.PauseBroker(controller);
        var restart = cluster.StartBrokerAsync(wiped);
        await cluster.WaitAsync(() => !cluster.Broker(observer).Core.Cluster!.IsLive(wiped));
        await restart;
        await cluster.WaitAsync(() => cluster.Broker(observer).Core.Cluster!.IsLive(wiped));
        cluster.ResumeBroker(controller);

        await cluster.WaitAsync(() => cluster.Brokers.Values.All(b => b.Core.Replicas!.StateOf(Topic, 0) is { Isr.Length: 3 } s && s.Leader != wiped && s.LeaderEpoch > before.LeaderEpoch));
        expected.AddRange(await ProduceAsync(producer, Records, Records));
        Assert.Equal(expected, Consume(cluster, expected.Count));
    }

    [Fact]
    public async Task The_last_in_sync_replica_back_with_an_empty_disk_leaves_the_isr_and_does_not_lead()
    {
        await using var cluster = await TributaryCluster.StartAsync(brokers: 3);
        var (wiped, other, observer) = (1, 2, 3);
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = Topic, NumPartitions = 1, ReplicasAssignments = new() { [0] = [wiped, other] } }]);
        }

        await cluster.WaitAsync(() => cluster.Broker(observer).Core.Cluster!.TryGetPartition(Topic, 0, out var s) && s.Leader == wiped && s.Isr.Length == 2);
        using var producer = ReplicatedProducer(cluster);
        await ProduceAsync(producer, 0, Records);

        // The other replica goes: the ISR is the leader alone, and records acknowledged now are on its disk only.
        await cluster.KillBrokerAsync(other);
        await cluster.WaitAsync(() => cluster.Broker(observer).Core.Cluster!.TryGetPartition(Topic, 0, out var s) && s.Isr is [var only] && only == wiped);
        await ProduceAsync(producer, Records, Records);

        // Then the leader dies and loses its disk: the partition is offline and keeps its last ISR member.
        await cluster.KillBrokerAsync(wiped);
        Directory.Delete(cluster.DataDirectory(wiped), recursive: true);
        await cluster.WaitAsync(() => cluster.Broker(observer).Core.Cluster!.TryGetPartition(Topic, 0, out var s) && s.Leader == -1);
        await cluster.StartBrokerAsync(other);
        await cluster.StartBrokerAsync(wiped);

        // Back with a new data directory, it is admitted only after leaving that ISR; unclean election is off, so
        // neither the empty broker nor the out-of-sync one leads.
        var control = cluster.Broker(observer).Core.Cluster!;
        await cluster.WaitAsync(() => control.IsAdmitted(wiped) && control.IsAdmitted(other));
        Assert.True(control.TryGetPartition(Topic, 0, out var offline));
        Assert.Equal(-1, offline.Leader);
        Assert.Empty(offline.Isr);
        var empty = cluster.Broker(wiped).Core;
        Assert.Equal(0, empty.Metadata.Find(Topic) is { } topic && empty.FindLog(topic, 0) is { } log ? log.LogEndOffset : 0);
    }

    [Fact]
    public async Task A_paused_leader_loses_its_leadership_and_follows_once_resumed()
    {
        await using var cluster = await TributaryCluster.StartAsync(brokers: 3);
        using var producer = await CreateTopicAndProducerAsync(cluster);
        var expected = await ProduceAsync(producer, 0, Records);

        var paused = cluster.LeaderOf(Topic, 0);
        var observer = cluster.Brokers.Keys.First(id => id != paused);
        cluster.PauseBroker(paused);
        await cluster.WaitAsync(() => !cluster.Broker(observer).Core.Cluster!.IsLive(paused) && cluster.LeaderOf(Topic, 0, observer) is var l && l > 0 && l != paused);
        expected.AddRange(await ProduceAsync(producer, Records, Records));

        // Resumed, it registers again, learns the new epoch, follows and is back in the ISR.
        cluster.ResumeBroker(paused);
        await cluster.WaitAsync(() => cluster.Broker(paused).Core.Replicas!.StateOf(Topic, 0) is { Isr.Length: 3 } s && s.Leader != paused);
        Assert.Equal(expected, Consume(cluster, expected.Count));
    }

    [Fact]
    public async Task A_leader_cut_from_etcd_past_its_lease_registers_again_and_rejoins_the_isr()
    {
        await using var cluster = await TributaryCluster.StartAsync(brokers: 3);
        using var producer = await CreateTopicAndProducerAsync(cluster);
        var expected = await ProduceAsync(producer, 0, Records);

        // Cut from etcd only: its lease ends, the leadership moves and it leaves the ISR. The cut holds a few
        // seconds longer, so its etcd client goes through failed keep-alives, silent connections and refused ones.
        var cut = cluster.LeaderOf(Topic, 0);
        var observer = cluster.Brokers.Keys.First(id => id != cut);
        cluster.CutFromEtcd(cut);
        await cluster.WaitAsync(() => cluster.Broker(observer).Core.Cluster!.TryGetPartition(Topic, 0, out var s) && s.Leader != cut && !s.Isr.Contains(cut));
        await Task.Delay(6000);

        // Reconnected, it reaches etcd again, registers under a new lease, follows and is back in every ISR. (No
        // write during the cut: the cut broker still believes it leads and answers Metadata so.)
        cluster.ReconnectToEtcd(cut);
        await cluster.WaitAsync(() => cluster.Brokers.Values.All(b => b.Core.Cluster!.IsLive(cut) && b.Core.Replicas!.StateOf(Topic, 0) is { Isr.Length: 3 } s && s.Leader != cut));
        expected.AddRange(await ProduceAsync(producer, Records, Records));
        Assert.Equal(expected, Consume(cluster, expected.Count));
    }

    [Fact]
    public async Task An_isolated_follower_leaves_the_isr_and_rejoins_when_healed()
    {
        await using var cluster = await TributaryCluster.StartAsync(brokers: 3, configure: (_, options) => options.Config["replica.lag.time.max.ms"] = "1500");
        using var producer = await CreateTopicAndProducerAsync(cluster);
        var expected = await ProduceAsync(producer, 0, Records);

        var leader = cluster.LeaderOf(Topic, 0);
        var isolated = cluster.Brokers.Keys.First(id => id != leader);
        cluster.Isolate(isolated);

        // Records go on without it (acks=all waits only for the ISR, which drops it once it lags).
        expected.AddRange(await ProduceAsync(producer, Records, Records));
        await cluster.WaitAsync(() => cluster.Broker(leader).Core.Cluster!.TryGetPartition(Topic, 0, out var s) && !s.Isr.Contains(isolated));
        Assert.Equal(leader, cluster.LeaderOf(Topic, 0));

        cluster.Heal(isolated);
        await cluster.WaitAsync(() => cluster.Broker(isolated).Core.Replicas!.StateOf(Topic, 0) is { Isr.Length: 3 });
        Assert.Equal(expected, Consume(cluster, expected.Count));
    }

    private static async Task<IProducer<string, string>> CreateTopicAndProducerAsync(TributaryCluster cluster)
    {
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = Topic, NumPartitions = 1, ReplicationFactor = 3 }]);
        }

        await cluster.WaitAsync(() => cluster.Brokers.Values.All(b => b.Core.Replicas!.StateOf(Topic, 0) is { Isr.Length: 3, Leader: > 0 }));
        return ReplicatedProducer(cluster);
    }

    private static IProducer<string, string> ReplicatedProducer(TributaryCluster cluster)
    {
        return new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = 0,

            // A paused leader answers nothing: the client gives up on its request after this and asks the cluster
            // again (librdkafka's default waits 30 s), as a client of a SIGSTOP'd Kafka broker would.
            RequestTimeoutMs = 5_000,
            SocketTimeoutMs = 5_000,
            MessageTimeoutMs = 120_000,
        }).Build();
    }

    private static Storage.PartitionLog PartitionLog(TributaryBroker broker) => broker.Core.FindLog(broker.Core.Metadata.Find(Topic)!, 0)!;

    private static Task<List<string>> ProduceAsync(IProducer<string, string> producer, int from, int count) =>
        EtcdReplicationTests.ProduceAsync(producer, from, count, Topic);

    private static List<string> Consume(TributaryCluster cluster, int count) => EtcdReplicationTests.Consume(cluster.BootstrapServers, Topic, count);
}
