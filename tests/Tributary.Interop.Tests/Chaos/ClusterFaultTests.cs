using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Tests.Shared.Chaos;

namespace Tributary.Interop.Tests.Chaos;

/// <summary>
/// Process-level faults against a real cluster (3 etcd members, 3 <c>tributary serve</c> processes on loopback)
/// while idempotent acks=all producers and a consumer group run; afterwards the history checker must find every
/// acknowledged write exactly once where it was acknowledged, nothing read that was later lost, and the replicas'
/// logs byte-identical. The schedule comes from a seed printed in the output; CHAOS_SEED replays it, CHAOS_SECONDS
/// runs a long schedule instead of every fault kind once (scripts/chaos.sh). Category "Chaos": test.sh leaves it
/// out while it still fails now and then (Cluster/FAULTS.md, "Found, not fixed"); scripts/chaos.sh runs it.
/// </summary>
[Trait("Category", "Chaos")]
public sealed class ClusterFaultTests(ITestOutputHelper output)
{
    private const string Topic = "chaos";
    private const int Producers = 2;
    private const int PartitionsPerProducer = 2;
    private const int Partitions = Producers * PartitionsPerProducer;
    private const int SendsMax = 50_000;

    private static readonly TimeSpan LeaseTtl = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan HealTimeout = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task Acknowledged_writes_survive_a_seeded_schedule_of_process_faults_and_the_replicas_agree()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("CHAOS_SEED"), CultureInfo.InvariantCulture, out var s) ? s : Random.Shared.Next(1_000_000);
        var faults = int.TryParse(Environment.GetEnvironmentVariable("CHAOS_SECONDS"), CultureInfo.InvariantCulture, out var seconds)
            ? FaultSchedule.ForDuration(seed, LeaseTtl, TimeSpan.FromSeconds(seconds))
            : FaultSchedule.EveryKindOnce(seed, LeaseTtl);
        output.WriteLine($"seed {seed} (replay with CHAOS_SEED={seed}): {string.Join(", ", faults)}");

        await using var cluster = await BrokerProcessCluster.StartAsync(new Dictionary<string, string>
        {
            ["tributary.metadata.etcd.lease.ms"] = ((int)LeaseTtl.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
            ["replica.lag.time.max.ms"] = "5000",
            ["default.replication.factor"] = "3",
        });
        await CreateTopicAsync(cluster);
        Assert.True(await cluster.WaitHealedAsync(Topic, HealTimeout), "the topic never had three in-sync replicas");

        var workload = new ChaosWorkload(cluster.BootstrapServers, Topic, Producers, PartitionsPerProducer, SendsMax);
        await using (workload)
        {
            await WaitForAcknowledgementsAsync(workload, 50);
            var injector = new FaultInjector(cluster, Topic, Partitions);
            foreach (var fault in faults)
            {
                var started = workload.History.Now;
                var note = await injector.InjectAsync(fault);
                var healed = await cluster.WaitHealedAsync(Topic, HealTimeout);
                Assert.True(healed, $"seed {seed}: not healed {HealTimeout.TotalSeconds} s after {fault} {note}\n{cluster.DescribeState(Topic)}");
                output.WriteLine($"{started.TotalSeconds,6:F1} s {fault} {note}; healed at {workload.History.Now.TotalSeconds:F1} s");
                await Task.Delay(fault.Gap);
            }

            // Recovery: every producer gets writes acknowledged after the last fault healed.
            await WaitForAcknowledgementsAsync(workload, 20, after: workload.History.Now);
            await workload.StopAsync();
        }

        workload.ReadCommitted(Partitions);
        var final = workload.ReadAll(Partitions);
        var result = HistoryChecker.Check(workload.History.Operations, final);
        output.WriteLine($"chaos: seed {seed}, {faults.Count} faults, {workload.History.Operations.Count} operations, {result.Summary()}");
        output.WriteLine("client errors: " + string.Join(", ", workload.Errors.Select(e => $"{e.Key} x{e.Value}")));

        await cluster.StopBrokersAsync();
        var replicaDifferences = CompareReplicas(cluster, final);
        Assert.True(replicaDifferences.Count == 0, $"seed {seed}: replicas differ: {string.Join("; ", replicaDifferences)}");

        var anomalies = result.Anomalies;
        Assert.True(anomalies.Count == 0, $"seed {seed}: {result.Summary()}");
        Assert.True(result.Acknowledged > 0 && result.Reads > 0, result.Summary());
    }

    private static async Task CreateTopicAsync(BrokerProcessCluster cluster)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        await admin.CreateTopicsAsync([new TopicSpecification
        {
            Name = Topic,
            NumPartitions = Partitions,
            ReplicationFactor = 3,
            Configs = new Dictionary<string, string> { ["min.insync.replicas"] = "2" },
        }]);
    }

    // Until every producer has `count` writes acknowledged that it sent at or after `after` (bounded).
    private static async Task WaitForAcknowledgementsAsync(ChaosWorkload workload, int count, TimeSpan after = default)
    {
        var deadline = DateTime.UtcNow + HealTimeout;
        while (true)
        {
            var acknowledged = workload.History.Operations
                .Where(o => o.Kind == OperationKind.Produce && o.Outcome == Outcome.Ok && o.Invoked >= after)
                .GroupBy(o => o.Process).Select(g => g.Count()).ToList();
            if (acknowledged.Count == Producers && acknowledged.All(c => c >= count))
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"producers had {string.Join("/", acknowledged)} writes acknowledged after {after.TotalSeconds:F1} s, wanted {count} each");
            await Task.Delay(100);
        }
    }

    // Every replica of every partition, read from the stopped brokers' data directories up to the end offset the
    // final read saw (the high watermark, all three in sync), must be the same bytes.
    private static List<string> CompareReplicas(BrokerProcessCluster cluster, Dictionary<int, IReadOnlyList<LogEntry>> final)
    {
        var differences = new List<string>();
        foreach (var (partition, entries) in final)
        {
            var end = entries.Count > 0 ? entries[^1].Offset + 1 : 0;
            var replicas = BrokerProcessCluster.BrokerIds.ToDictionary(id => id, id => ReplicaLogs.ReadUpTo(cluster.DataDirectory(id), Topic, partition, end));
            differences.AddRange(ReplicaLogs.Compare(replicas).Select(d => $"partition {partition} up to offset {end}: {d}"));
        }

        return differences;
    }
}
