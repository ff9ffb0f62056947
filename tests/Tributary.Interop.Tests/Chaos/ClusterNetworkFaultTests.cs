using System.Globalization;
using Tributary.Tests.Shared.Chaos;

namespace Tributary.Interop.Tests.Chaos;

/// <summary>
/// Network partitions between processes: 3 etcd members and 3 <c>tributary serve</c> processes, each broker in a
/// network namespace of its own and etcd in another, while the fault test's workload runs (idempotent acks=all
/// producers, a consumer group). A partition's leader is cut from its peers but not etcd, from etcd but not its
/// peers, and from everything for longer than its lease; each time the cluster must react as Kafka's does (see
/// <see cref="NetworkFaultInjector"/>) and heal. Afterwards the history checker and the byte comparison of the
/// replicas of <see cref="ClusterFaultTests"/>. The order and targets come from a seed (CHAOS_SEED replays it);
/// CHAOS_SECONDS draws faults for about that long instead of each kind once (scripts/chaos.sh). Needs root (network
/// namespaces) and iproute2, as test.sh provides. test.sh runs the short form; scripts/chaos.sh the long one.
/// </summary>
public sealed class ClusterNetworkFaultTests(ITestOutputHelper output)
{
    private const string Topic = ClusterFaultTests.Topic;
    private const int Partitions = ClusterFaultTests.Partitions;
    private static readonly TimeSpan LeaseTtl = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan HealTimeout = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task Acknowledged_writes_survive_a_leader_cut_from_its_peers_from_etcd_and_from_everything()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("CHAOS_SEED"), CultureInfo.InvariantCulture, out var s) ? s : Random.Shared.Next(1_000_000);
        var faults = int.TryParse(Environment.GetEnvironmentVariable("CHAOS_SECONDS"), CultureInfo.InvariantCulture, out var seconds)
            ? NetworkFault.ForDuration(seed, TimeSpan.FromSeconds(seconds))
            : NetworkFault.EveryKindOnce(seed);
        output.WriteLine($"seed {seed} (replay with CHAOS_SEED={seed}): {string.Join(", ", faults)}");

        var hosts = BrokerProcessCluster.BrokerIds.Select(BrokerProcessCluster.BrokerHost).Append(BrokerProcessCluster.EtcdHost);
        await using var network = await NetworkNamespaces.CreateAsync(hosts);
        var logDirectory = Path.Combine(AppContext.BaseDirectory, "chaos-logs", string.Create(CultureInfo.InvariantCulture, $"network-seed-{seed}-{DateTime.UtcNow:yyyyMMdd-HHmmss}"));
        await using var cluster = await BrokerProcessCluster.StartAsync(new Dictionary<string, string>
        {
            ["tributary.metadata.etcd.lease.ms"] = ((int)LeaseTtl.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
            ["replica.lag.time.max.ms"] = "5000",
            ["default.replication.factor"] = "3",
        }, logDirectory, network);
        await ClusterFaultTests.CreateTopicAsync(cluster);
        Assert.True(await WaitHealedEverywhereAsync(cluster), "the topic never had three in-sync replicas");

        var workload = new ChaosWorkload(cluster.BootstrapServers, Topic, ClusterFaultTests.Producers, ClusterFaultTests.PartitionsPerProducer, ClusterFaultTests.SendsMax, logDirectory);
        await using (workload)
        {
            await ClusterFaultTests.WaitForAcknowledgementsAsync(cluster, workload, 50);
            var injector = new NetworkFaultInjector(cluster, network, workload.History, Topic, Partitions);
            foreach (var fault in faults)
            {
                var started = workload.History.Now;
                var note = await injector.InjectAsync(fault);
                var healed = await WaitHealedEverywhereAsync(cluster);
                if (!healed)
                {
                    Assert.Fail($"seed {seed}: not healed {HealTimeout.TotalSeconds} s after {fault} {note}\n{await ClusterDiagnostics.DescribeAsync(cluster, Topic, workload.History)}");
                }

                output.WriteLine($"{started.TotalSeconds,6:F1} s {fault} {note}; healed at {workload.History.Now.TotalSeconds:F1} s");
            }

            await ClusterFaultTests.WaitForAcknowledgementsAsync(cluster, workload, 20, after: workload.History.Now);
            await workload.StopAsync();
        }

        workload.ReadCommitted(Partitions);
        var final = workload.ReadAll(Partitions);
        var result = HistoryChecker.Check(workload.History.Operations, final);
        output.WriteLine($"network faults: seed {seed}, {faults.Count} faults, {workload.History.Operations.Count} operations, {result.Summary()}");
        output.WriteLine("client errors: " + string.Join(", ", workload.Errors.Select(e => $"{e.Key} x{e.Value}")));
        output.WriteLine("by client: " + ClusterFaultTests.DescribeClients(workload.History));

        await cluster.StopBrokersAsync();
        foreach (var lost in result.Anomalies.Select(a => System.Text.RegularExpressions.Regex.Match(a.Detail, @" at (\d+)/(\d+)")).Where(m => m.Success)
            .Select(m => (Partition: int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), Offset: long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)))
            .GroupBy(l => l.Partition))
        {
            foreach (var id in BrokerProcessCluster.BrokerIds)
            {
                output.WriteLine($"broker {id}, {Topic}-{lost.Key} around the anomalies:\n{ReplicaLogs.Describe(cluster.DataDirectory(id), Topic, lost.Key, lost.Min(l => l.Offset) - 100, lost.Max(l => l.Offset) + 100)}");
            }
        }

        var replicaDifferences = ClusterFaultTests.CompareReplicas(cluster, final);
        Assert.True(replicaDifferences.Count == 0, $"seed {seed}: replicas differ: {string.Join("; ", replicaDifferences)}");
        Assert.True(result.Anomalies.Count == 0, $"seed {seed}: {result.Summary()}");
        Assert.True(result.Acknowledged > 0 && result.Reads > 0, result.Summary());
        ClusterFaultTests.AssertEveryConsumerRead(workload);
        Directory.Delete(logDirectory, recursive: true);
    }

    // Healed when every broker itself reports every partition led, with all three in sync, and all agree on the
    // leaders: a broker that was cut from etcd must have caught up with what changed meanwhile, not answer from a
    // stale cache.
    private static async Task<bool> WaitHealedEverywhereAsync(BrokerProcessCluster cluster)
    {
        var deadline = DateTime.UtcNow + HealTimeout;
        while (DateTime.UtcNow < deadline)
        {
            var views = new List<Dictionary<int, (int Leader, int[] Isr)>?>();
            foreach (var id in BrokerProcessCluster.BrokerIds)
            {
                views.Add(await NetworkFaultInjector.ViewAsync(cluster.Broker(id), Topic));
            }

            if (views.All(v => v is not null && v.Count == Partitions
                    && v.Values.All(p => p.Leader > 0 && p.Isr.Length == BrokerProcessCluster.BrokerIds.Length))
                && views.Select(v => string.Join(",", v!.OrderBy(p => p.Key).Select(p => p.Value.Leader))).Distinct().Count() == 1)
            {
                return true;
            }

            await Task.Delay(250);
        }

        return false;
    }
}
