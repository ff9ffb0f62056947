using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Interop.Tests.Support;

namespace Tributary.Interop.Tests;

/// <summary>
/// The standalone broker under <c>prlimit --nofile=1024:1024</c> serves 3,000 partitions (three files each, 9,000 in
/// all): its log files hold descriptors through a bounded cache, so creating, producing to, fetching from and
/// reloading every partition — after a clean stop and after kill -9 — stays within the limit.
/// </summary>
public sealed class ManyPartitionsDescriptorTests(ITestOutputHelper output) : IDisposable
{
    private const int OpenFilesLimit = 1024;
    private const int PartitionCount = 3_000;
    private const string Topic = "many";
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(60);

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("tributary-interop-many-partitions-");

    public void Dispose() => _work.Delete(recursive: true);

    [Fact]
    public async Task Three_thousand_partitions_are_produced_fetched_and_reloaded_within_1024_descriptors()
    {
        var dataDirectory = Path.Combine(_work.FullName, "data");
        var elapsed = System.Diagnostics.Stopwatch.StartNew();
        void Step(string what) => output.WriteLine($"{elapsed.Elapsed.TotalSeconds,6:F1} s: {what}");
        await using var broker = await StandaloneBroker.StartAsync(dataDirectory, FreePort.Pick(), openFilesLimit: OpenFilesLimit);
        Assert.Contains("Log files hold at most 512 descriptors (auto; open-file soft limit 1024)", broker.Log, StringComparison.Ordinal);
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = broker.BootstrapServers }).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = Topic, NumPartitions = PartitionCount, ReplicationFactor = 1 }]);
        }

        Step("created");
        await ProduceToEveryPartitionAsync(broker, round: 0);
        Step("produced");
        await AssertEveryPartitionHoldsAsync(broker, rounds: 1, "after producing");
        Step("read back");
        AssertDescriptorsBounded(broker);

        await broker.StopAsync(StopTimeout);
        Step("stopped");
        await broker.StartAsync();
        Step("started");
        Assert.Contains("after a clean shutdown", broker.Log, StringComparison.Ordinal);
        await AssertEveryPartitionHoldsAsync(broker, rounds: 1, "after a clean stop");
        await ProduceToEveryPartitionAsync(broker, round: 1);

        Step("produced again");
        await broker.KillAsync();
        await broker.StartAsync();
        Step("started after kill");
        Assert.Contains("after an unclean shutdown", broker.Log, StringComparison.Ordinal);
        await AssertEveryPartitionHoldsAsync(broker, rounds: 2, "after kill -9");
        Step("read back after kill");
        AssertDescriptorsBounded(broker);
        Assert.DoesNotContain("Too many open files", broker.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("offline", broker.Log, StringComparison.Ordinal);
    }

    private static string ValueOf(int partition, int round) => $"p{partition}-r{round}";

    private static async Task ProduceToEveryPartitionAsync(StandaloneBroker broker, int round)
    {
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = broker.BootstrapServers, LingerMs = 5, Acks = Acks.All }).Build();
        var deliveries = Enumerable.Range(0, PartitionCount)
            .Select(p => producer.ProduceAsync(new TopicPartition(Topic, p), new Message<Null, string> { Value = ValueOf(p, round) }))
            .ToArray();
        var results = await Task.WhenAll(deliveries);
        for (var p = 0; p < PartitionCount; p++)
        {
            Assert.Equal(round, results[p].Offset.Value);
        }
    }

    private async Task AssertEveryPartitionHoldsAsync(StandaloneBroker broker, int rounds, string when)
    {
        var messages = await KcatRunner.ConsumeAllAsync(broker.BootstrapServers, Topic, Path.Combine(_work.FullName, "consumed.jsonl"));
        output.WriteLine($"{when}: {messages.Count:N0} messages read back");
        var byPartition = messages.ToLookup(m => m.Partition);
        for (var p = 0; p < PartitionCount; p++)
        {
            Assert.Equal(
                Enumerable.Range(0, rounds).Select(r => (Offset: (long)r, Payload: ValueOf(p, r))),
                byPartition[p].OrderBy(m => m.Offset).Select(m => (m.Offset, m.Payload ?? "")));
        }
    }

    /// <summary>The broker's descriptors on files of its data directory stay within the log files' share of the limit.</summary>
    private void AssertDescriptorsBounded(StandaloneBroker broker)
    {
        var inData = new DirectoryInfo($"/proc/{broker.ProcessId.ToString(CultureInfo.InvariantCulture)}/fd").EnumerateFileSystemInfos()
            .Count(fd => fd.LinkTarget is { } target && target.StartsWith(broker.DataDirectory + "/", StringComparison.Ordinal));
        output.WriteLine($"{inData} descriptors open on the data directory");
        // The log's cache holds at most half the limit; the data directory's lock file is held outside it.
        Assert.InRange(inData, 1, (OpenFilesLimit / 2) + 1);
    }
}
