using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Storage;
using Tributary.Storage.Devices;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// A follower whose disk is full (its appends fail with ENOSPC) against a real etcd of 3 members: it neither stops
/// nor corrupts its log, leaves the ISR through the leader's lag rule while the leader goes on acknowledging acks=all
/// writes (min.insync.replicas still met), keeps replicating and leading its other partitions, logs the episode once,
/// and catches up and rejoins the ISR when space is back.
/// </summary>
public sealed class FollowerDiskTests(EtcdFixture fixture) : IClassFixture<EtcdFixture>, IAsyncLifetime
{
    private const string Full = "full";
    private const string Other = "other";
    private const int Follower = 3;
    private const int AppendFailedEventId = 1503;

    private readonly EtcdBrokers _brokers = new(fixture.Etcd, "disk");
    private readonly FullDiskDevice _device = new(FileLogDevice.Instance);
    private readonly CapturedLog _log = new();

    [Fact]
    public async Task A_follower_with_a_full_disk_leaves_the_isr_keeps_its_other_roles_and_rejoins_when_space_is_back()
    {
        await _brokers.StartAllAsync(3, (id, options) =>
        {
            options.Config["replica.lag.time.max.ms"] = "1500";
            options.Config["replica.fetch.backoff.ms"] = "100";
            if (id == Follower)
            {
                options.LogDevice = _device;
                options.LoggerFactory = _log.CreateFactory();
            }
        });
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _brokers.Bootstrap }).Build())
        {
            var minIsr = new Dictionary<string, string> { ["min.insync.replicas"] = "2" };
            await admin.CreateTopicsAsync(
            [
                new TopicSpecification { Name = Full, NumPartitions = 1, ReplicationFactor = -1, ReplicasAssignments = new() { [0] = [1, 2, 3] }, Configs = minIsr },

                // The follower leads one partition and follows another from the same leader as the full one.
                new TopicSpecification { Name = Other, NumPartitions = 2, ReplicationFactor = -1, ReplicasAssignments = new() { [0] = [3, 1, 2], [1] = [1, 3, 2] }, Configs = minIsr },
            ]);
        }

        await ReplicationTests.WaitUntilAsync(() => IsrOf(Full, 0).Length == 3 && IsrOf(Other, 0).Length == 3 && IsrOf(Other, 1).Length == 3);
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = _brokers.Bootstrap,
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = 0,
        }).Build();
        await ProduceAsync(producer, Full, 0, 0, 10);
        await ReplicationTests.WaitUntilAsync(() => Log(Follower, Full, 0).LogEndOffset == 10);

        // The disk fills: every write acks=all is still acknowledged, once the leader has dropped the follower.
        _device.FullTopic = Full;
        await ProduceAsync(producer, Full, 0, 10, 20);
        await ReplicationTests.WaitUntilAsync(() => !IsrOf(Full, 0).Contains(Follower));
        Assert.Equal([1, 2], IsrOf(Full, 0).Order());
        await ProduceAsync(producer, Full, 0, 20, 30);
        Assert.True(_device.Refused > 0, "the follower's appends should have hit the full disk");
        Assert.Equal(10, Log(Follower, Full, 0).LogEndOffset);

        // Its other roles go on: it leads other-0 and follows other-1 in sync.
        await ProduceAsync(producer, Other, 0, 0, 10);
        await ProduceAsync(producer, Other, 1, 0, 10);
        await ReplicationTests.WaitUntilAsync(() => Log(Follower, Other, 1).LogEndOffset == 10 && Log(1, Other, 0).LogEndOffset == 10);
        Assert.Equal(3, IsrOf(Other, 0).Length);
        Assert.Equal(3, IsrOf(Other, 1).Length);
        Assert.Equal(Follower, _brokers[1].Core.Cluster!.TryGetPartition(Other, 0, out var other0) ? other0.Leader : -1);

        // Space is back: it appends from where it stopped, catches up and is taken back into the ISR.
        _device.FullTopic = null;
        await ReplicationTests.WaitUntilAsync(() => IsrOf(Full, 0).Length == 3 && Log(Follower, Full, 0).LogEndOffset == 30);
        var leader = Log(1, Full, 0);
        Assert.Equal(ReplicationTests.ReadUpTo(leader, 30), ReplicationTests.ReadUpTo(Log(Follower, Full, 0), 30));
        Assert.Equal(1, _log.Count(AppendFailedEventId));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _brokers.DisposeAsync();
        _log.Dispose();
    }

    private int[] IsrOf(string topic, int partition) =>
        _brokers[1].Core.Cluster!.TryGetPartition(topic, partition, out var state) ? state.Isr : [];

    private PartitionLog Log(int broker, string topic, int partition)
    {
        var core = _brokers[broker].Core;
        return core.FindLog(core.Metadata.Find(topic)!, partition)!;
    }

    private static async Task ProduceAsync(IProducer<string, string> producer, string topic, int partition, int from, int to)
    {
        for (var i = from; i < to; i++)
        {
            var result = await producer.ProduceAsync(new TopicPartition(topic, partition),
                new Message<string, string> { Key = "k", Value = i.ToString(CultureInfo.InvariantCulture) });
            Assert.Equal(PersistenceStatus.Persisted, result.Status);
        }
    }
}
