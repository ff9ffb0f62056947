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
/// runs a long schedule instead of every fault kind once (scripts/chaos.sh; test.sh runs the short one). Category
/// "Chaos", to leave it out of a quick local run (--filter Category!=Chaos). A failed run keeps the brokers' logs and
/// the producers' librdkafka debug logs (chaos-logs/ in the output directory) and prints what each broker and etcd hold.
/// </summary>
[Trait("Category", "Chaos")]
public sealed class ClusterFaultTests(ITestOutputHelper output)
{
    internal const string Topic = "chaos";
    internal const int Producers = 2;
    internal const int PartitionsPerProducer = 2;
    internal const int Partitions = (Producers * PartitionsPerProducer) + ChaosWorkload.OtherProducerPartitions;
    internal const int SendsMax = 50_000;

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

        // The brokers' and producers' logs stay in the test's output directory when the run fails.
        var logDirectory = Path.Combine(AppContext.BaseDirectory, "chaos-logs", string.Create(CultureInfo.InvariantCulture, $"seed-{seed}-{DateTime.UtcNow:yyyyMMdd-HHmmss}"));
        await using var cluster = await BrokerProcessCluster.StartAsync(new Dictionary<string, string>
        {
            ["tributary.metadata.etcd.lease.ms"] = ((int)LeaseTtl.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
            ["replica.lag.time.max.ms"] = "5000",
            ["default.replication.factor"] = "3",
        }, logDirectory);
        await CreateTopicAsync(cluster);
        await ChaosTransactions.CreateTopicAsync(cluster);
        Assert.True(await cluster.WaitHealedAsync(Topic, HealTimeout), "the topic never had three in-sync replicas");
        Assert.True(await cluster.WaitHealedAsync(ChaosTransactions.Topic, HealTimeout), "the transactions' topic never had three in-sync replicas");

        var workload = new ChaosWorkload(cluster.BootstrapServers, Topic, Producers, PartitionsPerProducer, SendsMax, logDirectory);
        var transactions = new ChaosTransactions(cluster.BootstrapServers, logDirectory);
        await using (workload)
        await using (transactions)
        {
            await WaitForAcknowledgementsAsync(cluster, workload, 50);
            var injector = new FaultInjector(cluster, Topic, Partitions);
            foreach (var fault in faults)
            {
                var started = workload.History.Now;
                var note = await injector.InjectAsync(fault);
                var healed = await cluster.WaitHealedAsync(Topic, HealTimeout);
                Assert.True(healed, $"seed {seed}: not healed {HealTimeout.TotalSeconds} s after {fault} {note}\n{await ClusterDiagnostics.DescribeAsync(cluster, Topic, workload.History)}");
                output.WriteLine($"{started.TotalSeconds,6:F1} s {fault} {note}; healed at {workload.History.Now.TotalSeconds:F1} s");
                await Task.Delay(fault.Gap);
            }

            // Recovery: every producer gets writes acknowledged after the last fault healed.
            await WaitForAcknowledgementsAsync(cluster, workload, 20, after: workload.History.Now);
            await WaitForCommitsAsync(transactions, 5, after: transactions.History.Now);
            await workload.StopAsync();
            await transactions.StopAsync();
        }

        workload.ReadCommitted(Partitions);
        var final = workload.ReadAll(Partitions);
        var result = HistoryChecker.Check(workload.History.Operations, final);
        output.WriteLine($"chaos: seed {seed}, {faults.Count} faults, {workload.History.Operations.Count} operations, {result.Summary()}");
        output.WriteLine("client errors: " + string.Join(", ", workload.Errors.Select(e => $"{e.Key} x{e.Value}")));
        var transactionsFinal = transactions.ReadAll();
        var transactionsResult = HistoryChecker.Check(transactions.History.Operations, transactionsFinal);
        output.WriteLine($"transactions: {transactions.History.Operations.Count(o => o.Kind == OperationKind.TransactionEnd)} ended, longest pause between two ends {transactions.LongestPauseBetweenEnds().TotalSeconds:F1} s, {transactionsResult.Summary()}");
        output.WriteLine("transactional client errors: " + string.Join(", ", transactions.Errors.Select(e => $"{e.Key} x{e.Value}")));
        output.WriteLine("by client: " + DescribeClients(workload.History));

        await cluster.StopBrokersAsync();
        var replicaDifferences = CompareReplicas(cluster, final).Concat(CompareReplicas(cluster, transactionsFinal, ChaosTransactions.Topic)).ToList();
        Assert.True(replicaDifferences.Count == 0, $"seed {seed}: replicas differ: {string.Join("; ", replicaDifferences)}");

        var anomalies = result.Anomalies;
        Assert.True(anomalies.Count == 0, $"seed {seed}: {result.Summary()}");
        Assert.True(result.Acknowledged > 0 && result.Reads > 0, result.Summary());
        Assert.True(transactionsResult.Anomalies.Count == 0, $"seed {seed}: transactions {transactionsResult.Summary()}");
        Assert.True(transactionsResult.Acknowledged > 0 && transactionsResult.Failed > 0 && transactionsResult.Reads > 0, transactionsResult.Summary());
        AssertEveryConsumerRead(workload);
        Directory.Delete(logDirectory, recursive: true);
    }

    internal static async Task CreateTopicAsync(BrokerProcessCluster cluster)
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

    // Until every producer, of every client kind, has `count` writes acknowledged that it sent at or after `after` (bounded).
    internal static async Task WaitForAcknowledgementsAsync(BrokerProcessCluster cluster, ChaosWorkload workload, int count, TimeSpan after = default)
    {
        var deadline = DateTime.UtcNow + HealTimeout;
        while (true)
        {
            var acknowledged = workload.History.Operations
                .Where(o => o.Kind == OperationKind.Produce && o.Outcome == Outcome.Ok && o.Invoked >= after)
                .GroupBy(o => o.Process).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
            if (workload.ProducerNames.All(p => acknowledged.GetValueOrDefault(p) >= count))
            {
                return;
            }

            if (DateTime.UtcNow >= deadline)
            {
                var counts = string.Join(", ", workload.ProducerNames.Select(p => $"{p} {acknowledged.GetValueOrDefault(p)}"));
                Assert.Fail($"producers had {counts} writes acknowledged sent after {after.TotalSeconds:F1} s, wanted {count} each within {HealTimeout.TotalSeconds} s; client errors: "
                    + ErrorCounts(workload) + "\n"
                    + await ClusterDiagnostics.DescribeAsync(cluster, Topic, workload.History));
            }

            await Task.Delay(100);
        }
    }

    // Until the transactional producer has `count` transactions committed that began at or after `after` (bounded).
    internal static async Task WaitForCommitsAsync(ChaosTransactions transactions, int count, TimeSpan after)
    {
        var deadline = DateTime.UtcNow + HealTimeout;
        while (transactions.CommittedSince(after) < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{transactions.CommittedSince(after)} transactions committed after {after.TotalSeconds:F1} s, wanted {count} within {HealTimeout.TotalSeconds} s; client errors: "
                + string.Join(", ", transactions.Errors.Select(e => $"{e.Key} x{e.Value}")));
            await Task.Delay(100);
        }
    }

    // Each producer's acknowledged writes and each consumer's reads, to see that every client kind took part.
    internal static string DescribeClients(History history) =>
        string.Join(", ", history.Operations.Where(o => o.Kind is OperationKind.Produce or OperationKind.Read && o.Outcome == Outcome.Ok)
            .GroupBy(o => (o.Process, o.Kind)).OrderBy(g => g.Key.Process, StringComparer.Ordinal)
            .Select(g => $"{g.Key.Process} {g.Count()} {(g.Key.Kind == OperationKind.Produce ? "acknowledged" : "read")}"));

    // Each client's group member must have had partitions and read from them at some point of the run.
    internal static void AssertEveryConsumerRead(ChaosWorkload workload)
    {
        var readers = workload.History.Operations.Where(o => o.Kind == OperationKind.Read).Select(o => o.Process).ToHashSet(StringComparer.Ordinal);
        var idle = workload.ConsumerNames.Where(c => !readers.Contains(c)).ToList();
        Assert.True(idle.Count == 0, $"group members that read nothing: {string.Join(", ", idle)}; client errors: {ErrorCounts(workload)}");
    }

    // The workload's client errors so far (its producers may still be counting).
    private static string ErrorCounts(ChaosWorkload workload)
    {
        lock (workload.Errors)
        {
            return string.Join(", ", workload.Errors.Select(e => $"{e.Key} x{e.Value}"));
        }
    }

    // Every replica of every partition, read from the stopped brokers' data directories up to the end offset the
    // final read saw (the high watermark, all three in sync), must be the same bytes.
    internal static List<string> CompareReplicas(BrokerProcessCluster cluster, Dictionary<int, IReadOnlyList<LogEntry>> final, string topic = Topic)
    {
        var differences = new List<string>();
        foreach (var (partition, entries) in final)
        {
            var end = entries.Count > 0 ? entries[^1].Offset + 1 : 0;
            var replicas = BrokerProcessCluster.BrokerIds.ToDictionary(id => id, id => ReplicaLogs.ReadUpTo(cluster.DataDirectory(id), topic, partition, end));
            differences.AddRange(ReplicaLogs.Compare(replicas).Select(d => $"{topic} partition {partition} up to offset {end}: {d}"));
        }

        return differences;
    }
}
