using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Tests.Shared.Chaos;

namespace Tributary.Interop.Tests.Chaos;

/// <summary>
/// A full disk under real processes: 3 etcd members and 3 <c>tributary serve</c> processes, brokers 1 and 2 with their
/// data directories on small tmpfs mounts of their own, while the fault test's workload runs (idempotent acks=all
/// producers of every client kind, a read_committed consumer group; <c>min.insync.replicas=2</c>). First broker 2, a
/// follower of every partition, runs out of space: acknowledged writes go on from the other two, it leaves every ISR,
/// warns once per partition and does not crash; given space again it catches up and rejoins. Then broker 1, leader of
/// half the partitions, runs out: its appends answer KAFKA_STORAGE_ERROR (what the produce path maps ENOSPC to), it
/// never acknowledges a write it did not store, and once freed the cluster heals. Afterwards the history checker and
/// the byte comparison of the replicas. Needs root (the mounts), as test.sh provides.
/// </summary>
[Trait("Category", "Chaos")]
public sealed class ClusterDiskFullTests(ITestOutputHelper output)
{
    private const string Topic = ClusterFaultTests.Topic;
    private const int Partitions = ClusterFaultTests.Partitions;
    private const int FullFollower = 2;
    private const int FullLeader = 1;
    private const long FilesystemBytes = 96L * 1024 * 1024;
    private static readonly TimeSpan LeaseTtl = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan EffectTimeout = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task A_full_follower_leaves_the_isr_and_rejoins_and_a_full_leader_acknowledges_nothing_it_did_not_store()
    {
        var logDirectory = Path.Combine(AppContext.BaseDirectory, "chaos-logs", string.Create(CultureInfo.InvariantCulture, $"disk-full-{DateTime.UtcNow:yyyyMMdd-HHmmss}"));
        var mounts = new Dictionary<int, SmallFilesystem>();
        BrokerProcessCluster? cluster = null;
        try
        {
            cluster = await BrokerProcessCluster.StartAsync(new Dictionary<string, string>
            {
                ["tributary.metadata.etcd.lease.ms"] = ((int)LeaseTtl.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
                ["replica.lag.time.max.ms"] = "5000",
                ["default.replication.factor"] = "3",

                // Segments roll before they reserve blocks ahead (Preallocation.FileBytesMin), so a full disk shows at once.
                ["log.segment.bytes"] = (512 * 1024).ToString(CultureInfo.InvariantCulture),
            }, logDirectory, prepareDataDirectory: async (id, directory) =>
            {
                if (id is FullFollower or FullLeader)
                {
                    mounts[id] = await SmallFilesystem.MountAsync(directory, FilesystemBytes);
                }
            });
            await RunAsync(cluster, mounts, logDirectory);
        }
        finally
        {
            if (cluster is not null)
            {
                await cluster.DisposeAsync();
            }

            foreach (var mount in mounts.Values)
            {
                await mount.DisposeAsync();
            }
        }
    }

    private async Task RunAsync(BrokerProcessCluster cluster, Dictionary<int, SmallFilesystem> mounts, string logDirectory)
    {
        await CreateTopicAsync(cluster);
        Assert.True(await cluster.WaitHealedAsync(Topic, EffectTimeout), "the topic never had three in-sync replicas");

        var workload = new ChaosWorkload(cluster.BootstrapServers, Topic, ClusterFaultTests.Producers, ClusterFaultTests.PartitionsPerProducer, ClusterFaultTests.SendsMax, logDirectory);
        await using (workload)
        {
            await ClusterFaultTests.WaitForAcknowledgementsAsync(cluster, workload, 50);

            // A full follower: the other two go on acknowledging, it leaves every ISR, warns once per partition, lives.
            var filled = mounts[FullFollower].Fill();
            var fullAt = workload.History.Now;
            output.WriteLine($"{fullAt.TotalSeconds,6:F1} s broker {FullFollower} full ({filled} bytes of filler)");
            await WaitForAsync(cluster, workload, () => IsrWithout(cluster, FullFollower), $"broker {FullFollower} never left every ISR");
            await ClusterFaultTests.WaitForAcknowledgementsAsync(cluster, workload, 20, after: workload.History.Now);
            output.WriteLine($"{workload.History.Now.TotalSeconds,6:F1} s broker {FullFollower} out of every ISR; writes acknowledged without it");
            Assert.True(cluster.Broker(FullFollower).IsRunning, $"broker {FullFollower} exited on a full disk");
            var warnings = AppendFailedWarnings(cluster.LogFile(FullFollower));
            Assert.True(warnings.Count > 0, $"broker {FullFollower} logged no append failure (event 1503)");
            Assert.True(warnings.All(w => w.Value == 1), $"broker {FullFollower} warned more than once per partition: {string.Join(", ", warnings)}");

            mounts[FullFollower].Free();
            Assert.True(await cluster.WaitHealedAsync(Topic, EffectTimeout), $"broker {FullFollower} did not rejoin every ISR once it had space\n{await ClusterDiagnostics.DescribeAsync(cluster, Topic, workload.History)}");
            output.WriteLine($"{workload.History.Now.TotalSeconds,6:F1} s broker {FullFollower} freed and back in every ISR");

            // A full leader: its appends fail with KAFKA_STORAGE_ERROR, none is acknowledged (the checker), and it heals.
            var errorsBefore = StorageErrorLines(cluster.LogFile(FullLeader));
            filled = mounts[FullLeader].Fill();
            output.WriteLine($"{workload.History.Now.TotalSeconds,6:F1} s broker {FullLeader} full ({filled} bytes of filler)");
            await WaitForAsync(cluster, workload, () => StorageErrorLines(cluster.LogFile(FullLeader)) > errorsBefore, $"broker {FullLeader} never answered a produce with a storage error");
            await WaitForAsync(cluster, workload, () => IsrWithout(cluster, FullLeader, followedOnly: true), $"broker {FullLeader} never left the ISRs it follows in");
            Assert.True(cluster.Broker(FullLeader).IsRunning, $"broker {FullLeader} exited on a full disk");
            mounts[FullLeader].Free();
            Assert.True(await cluster.WaitHealedAsync(Topic, EffectTimeout), $"broker {FullLeader} did not heal once it had space\n{await ClusterDiagnostics.DescribeAsync(cluster, Topic, workload.History)}");
            output.WriteLine($"{workload.History.Now.TotalSeconds,6:F1} s broker {FullLeader} freed and healed");

            await ClusterFaultTests.WaitForAcknowledgementsAsync(cluster, workload, 20, after: workload.History.Now);
            await workload.StopAsync();
        }

        workload.ReadCommitted(Partitions);
        var final = workload.ReadAll(Partitions);
        var result = HistoryChecker.Check(workload.History.Operations, final);
        output.WriteLine($"disk full: {workload.History.Operations.Count} operations, {result.Summary()}");
        output.WriteLine("client errors: " + string.Join(", ", workload.Errors.Select(e => $"{e.Key} x{e.Value}")));
        output.WriteLine("by client: " + ClusterFaultTests.DescribeClients(workload.History));

        await cluster.StopBrokersAsync();
        var replicaDifferences = ClusterFaultTests.CompareReplicas(cluster, final);
        Assert.True(replicaDifferences.Count == 0, $"replicas differ: {string.Join("; ", replicaDifferences)}");
        Assert.True(result.Anomalies.Count == 0, result.Summary());
        Assert.True(result.Acknowledged > 0 && result.Reads > 0, result.Summary());
        ClusterFaultTests.AssertEveryConsumerRead(workload);
        Directory.Delete(logDirectory, recursive: true);
    }

    // Broker 1 or 3 leads each partition (never the broker whose disk fills first), alternately, so broker 1 leads half.
    private static async Task CreateTopicAsync(BrokerProcessCluster cluster)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        await admin.CreateTopicsAsync([new TopicSpecification
        {
            Name = Topic,
            NumPartitions = Partitions,
            ReplicationFactor = -1,
            ReplicasAssignments = Enumerable.Range(0, Partitions).ToDictionary(p => p, p => p % 2 == 0 ? new List<int> { 1, 3, 2 } : [3, 1, 2]),
            Configs = new Dictionary<string, string> { ["min.insync.replicas"] = "2" },
        }]);
    }

    // Every partition reported with a leader and the broker missing from its ISR (with followedOnly, those it does not lead).
    private static bool IsrWithout(BrokerProcessCluster cluster, int broker, bool followedOnly = false) =>
        cluster.Describe(Topic) is { } metadata && metadata.Partitions.Count == Partitions
        && metadata.Partitions.Where(p => !followedOnly || p.Leader != broker).All(p => p.Leader > 0 && !p.InSyncReplicas.Contains(broker));

    // Event 1503 per partition: the follower's warning that it cannot append what it fetched.
    private static Dictionary<string, int> AppendFailedWarnings(string logFile) =>
        File.ReadLines(logFile)
            .Select(line => System.Text.RegularExpressions.Regex.Match(line, @"Replica of (\S+) cannot append what it fetched"))
            .Where(m => m.Success).GroupBy(m => m.Groups[1].Value).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);

    // Event 201: a produce answered KAFKA_STORAGE_ERROR.
    private static int StorageErrorLines(string logFile) =>
        File.ReadLines(logFile).Count(line => line.Contains($"Storage error appending to {Topic}-", StringComparison.Ordinal));

    private static async Task WaitForAsync(BrokerProcessCluster cluster, ChaosWorkload workload, Func<bool> condition, string failure)
    {
        var deadline = DateTime.UtcNow + EffectTimeout;
        while (!condition())
        {
            if (DateTime.UtcNow >= deadline)
            {
                Assert.Fail($"{failure} within {EffectTimeout.TotalSeconds} s\n{await ClusterDiagnostics.DescribeAsync(cluster, Topic, workload.History)}");
            }

            await Task.Delay(250);
        }
    }
}
