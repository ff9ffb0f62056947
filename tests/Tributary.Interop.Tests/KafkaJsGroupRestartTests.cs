using System.Globalization;
using Tributary.Interop.Tests.Support;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server;
using Tributary.Server.Client;

namespace Tributary.Interop.Tests;

public sealed class KafkaJsGroupRestartTests(ITestOutputHelper output) : IDisposable
{
    private const int PartitionCount = 4;
    private const int ChunkCount = 10_000;
    private const int TotalCount = 3 * ChunkCount;
    private const int RestartAfterDeliveries = 3_000;
    private const int KillAfterDeliveries = ChunkCount + 4_000;
    private static readonly TimeSpan ProgressTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(130);

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("tributary-interop-group-restart-");

    // Proves committed offsets carry a kafkajs group across broker restarts without skipping a message:
    // two consumers (paced at ~2,000 messages/s each) are part-way through 10,000 messages when the broker restarts
    // under them; no committed offset goes backwards and they carry on, through 10,000 more produced after the restart;
    // part-way through those they are killed (no leave, no last commit), 10,000 more are produced, the broker restarts
    // again, and a new consumer in the same group starts exactly at the committed offset of every partition and reads
    // to the end, each message once. Every one of the 30,000 ids was consumed; the re-reads are printed.
    [Fact]
    public async Task KafkaJsGroupResumesFromCommittedOffsetsAcrossBrokerRestarts()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { InMemory = false, DataDirectory = Path.Combine(_work.FullName, "data") });
        const string topic = "restart-orders";
        const string group = "restart-group";
        await broker.CreateTopicAsync(topic, PartitionCount);
        var firstRun = Path.Combine(_work.FullName, "first-run.txt");
        var secondRun = Path.Combine(_work.FullName, "second-run.txt");

        await ProduceAsync(broker.BootstrapServers, topic, 0);
        var consumers = NodeRunner.Start("group-restart.mjs", broker.BootstrapServers, topic, group, "2", firstRun, "0", "paced");
        await using (consumers)
        {
            await consumers.WaitForLineAsync(l => Progress(l) >= RestartAfterDeliveries, ProgressTimeout);
            var beforeRestart = await CommittedAsync(broker.BootstrapServers, group);
            await broker.RestartAsync();
            var afterRestart = await CommittedAsync(broker.BootstrapServers, group);
            output.WriteLine($"live restart: committed {Sum(beforeRestart)} before, {Sum(afterRestart)} after");
            Assert.True(Sum(beforeRestart) is > 0 and < ChunkCount, $"committed {Sum(beforeRestart)} before the restart: it did not happen mid-run");
            Assert.All(beforeRestart, c => Assert.True(afterRestart.GetValueOrDefault(c.Key, -1) >= c.Value, $"partition {c.Key}: committed {c.Value} before the restart, {afterRestart.GetValueOrDefault(c.Key, -1)} after"));

            await ProduceAsync(broker.BootstrapServers, topic, ChunkCount);
            await consumers.WaitForLineAsync(l => Progress(l) >= KillAfterDeliveries, ProgressTimeout);
            await consumers.KillAsync();
        }

        await ProduceAsync(broker.BootstrapServers, topic, 2 * ChunkCount);
        await broker.RestartAsync();
        var resumeFrom = await CommittedAsync(broker.BootstrapServers, group);
        output.WriteLine($"after the kill and a second restart the group resumes from {string.Join(", ", resumeFrom.OrderBy(c => c.Key).Select(c => $"p{c.Key}@{c.Value}"))}");

        var resumed = await NodeRunner.RunAsync("group-restart.mjs", NodeTimeout, broker.BootstrapServers, topic, group, "1", secondRun, TotalCount.ToString(CultureInfo.InvariantCulture));
        using var json = NodeRunner.LastJsonLine(resumed);
        Assert.True(resumed.ExitCode == 0 && !json.RootElement.TryGetProperty("error", out _), "resumed consumer failed: " + resumed.Describe());
        output.WriteLine($"resumed consumer caught up in {json.RootElement.GetProperty("elapsedMs").GetInt32()} ms (it waits out the killed members' sessions)");

        var first = ReadDeliveries(firstRun);
        var second = ReadDeliveries(secondRun);

        // The resumed consumer starts at exactly the committed offset of each partition: nothing before it is re-read,
        // nothing between it and the first delivery is skipped.
        var firstOffsets = second.GroupBy(d => d.Partition).ToDictionary(g => g.Key, g => g.Min(d => d.Offset));
        Assert.Equal(resumeFrom.OrderBy(c => c.Key), firstOffsets.OrderBy(c => c.Key));

        var expected = Enumerable.Range(0, TotalCount).Select(i => "value-" + i.ToString(CultureInfo.InvariantCulture)).ToHashSet();
        var missing = expected.Except(first.Concat(second).Select(d => d.Value)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} messages never consumed, e.g. {string.Join(", ", missing.Take(5))}");
        var reread = first.Count + second.Count - TotalCount;
        output.WriteLine($"{first.Count:N0} deliveries before the kill, {second.Count:N0} after; {reread} delivered twice "
            + $"({first.Count - first.Select(d => d.Value).Distinct().Count()} within the first run, around the live restart)");
        Assert.Equal(second.Count, second.Select(d => d.Value).Distinct().Count());
    }

    public void Dispose() => _work.Delete(recursive: true);

    private static int Progress(string line) =>
        line.StartsWith("progress ", StringComparison.Ordinal) ? int.Parse(line.AsSpan("progress ".Length), CultureInfo.InvariantCulture) : -1;

    private static long Sum(Dictionary<int, long> offsets) => offsets.Values.Sum();

    private async Task ProduceAsync(string bootstrap, string topic, int from)
    {
        var input = Path.Combine(_work.FullName, $"input-{from}.txt");
        await File.WriteAllLinesAsync(input, Enumerable.Range(from, ChunkCount).Select(i => string.Create(CultureInfo.InvariantCulture, $"key-{i}\tvalue-{i}")));
        await KcatRunner.ProduceLinesAsync(bootstrap, topic, input, ["-X", "acks=all"]);
    }

    /// <summary>The group's committed offsets as the broker answers OffsetFetch (null topics: every committed partition).</summary>
    private static async Task<Dictionary<int, long>> CommittedAsync(string bootstrap, string group)
    {
        await using var client = await KafkaWireClient.ConnectAsync(bootstrap);
        var response = await client.SendAsync<OffsetFetchRequest, OffsetFetchResponse>(ApiKey.OffsetFetch, 7, new OffsetFetchRequest { GroupId = group, Topics = null });
        Assert.Equal(ErrorCode.None, (ErrorCode)response.ErrorCode);
        return response.Topics.SelectMany(t => t.Partitions).Where(p => p.CommittedOffset >= 0).ToDictionary(p => p.PartitionIndex, p => p.CommittedOffset);
    }

    private static List<(string Value, int Partition, long Offset, string Consumer)> ReadDeliveries(string path) =>
        [.. File.ReadLines(path)
            .Where(l => l.Length > 0)
            .Select(l => l.Split(' '))
            .Select(f => (f[0], int.Parse(f[1], CultureInfo.InvariantCulture), long.Parse(f[2], CultureInfo.InvariantCulture), f[3]))];
}
