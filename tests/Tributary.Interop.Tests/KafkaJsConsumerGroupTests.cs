using System.Globalization;
using System.Text.Json;
using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

public sealed class KafkaJsConsumerGroupTests(ITestOutputHelper output) : IDisposable
{
    private const int MessageCount = 60_000;
    private const int PartitionsAtStart = 6;
    private const int PartitionsAtEnd = 12;

    // At-least-once allows redelivery of what was consumed but not yet committed when a partition changes owner.
    // Generous on purpose: the exact number is printed, the bound only catches a group that re-reads whole partitions.
    private const int DuplicatesMax = MessageCount / 10;

    // The script bounds itself at 150 s; this is the backstop that kills it by its process id.
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(170);

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("tributary-interop-group-");

    // Proves a kafkajs consumer group keeps its promise through membership and topic changes while messages flow: three
    // consumers share a 6-partition topic; a third of the way into 60,000 messages, produced as fast as kafkajs can so
    // the consumers have a backlog, one disconnects and another joins; half way the topic grows to 12 partitions
    // (kafkajs notices through its metadata refresh and rejoins).
    // Every message the producer had acknowledged is consumed, with the partition and offset where the log holds it;
    // the group's committed offsets end equal to the end offset of all 12 partitions; the new partitions are consumed;
    // the final three members split the 12 partitions between them. The duplicate count is printed.
    [Fact]
    public async Task KafkaJsGroupConsumesEveryMessageThroughLeaveJoinAndPartitionGrowth()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { InMemory = false, DataDirectory = Path.Combine(_work.FullName, "data") });
        const string topic = "live-orders";
        const string group = "live-group";
        await broker.CreateTopicAsync(topic, PartitionsAtStart);
        var deliveriesFile = Path.Combine(_work.FullName, "deliveries.txt");

        var run = await NodeRunner.RunAsync("group-live.mjs", NodeTimeout, broker.BootstrapServers, topic, group, MessageCount.ToString(CultureInfo.InvariantCulture), deliveriesFile);

        using var json = NodeRunner.LastJsonLine(run);
        var result = json.RootElement;
        Assert.True(run.ExitCode == 0 && !result.TryGetProperty("error", out _), "kafkajs group script failed: " + run.Describe());
        foreach (var e in result.GetProperty("events").EnumerateArray())
        {
            output.WriteLine($"{e.GetProperty("atMs").GetInt32(),6} ms  {e.GetProperty("event").GetString()} (produced {e.GetProperty("sent").GetInt32():N0}, consumed {e.GetProperty("consumed").GetInt32():N0})");
        }

        // What the log holds, read back independently by librdkafka: every id once, at one partition and offset.
        var log = await KcatRunner.ConsumeAllAsync(broker.BootstrapServers, topic, Path.Combine(_work.FullName, "log.json"));
        var expected = Enumerable.Range(0, MessageCount).Select(i => "m-" + i.ToString(CultureInfo.InvariantCulture)).ToHashSet();
        Assert.Equal(MessageCount, log.Count);
        Assert.True(expected.SetEquals(log.Select(m => m.Payload!)), "the log does not hold exactly the produced ids");
        var positions = log.ToDictionary(m => m.Payload!, m => (m.Partition, m.Offset));

        var deliveries = ReadDeliveries(deliveriesFile);
        var misplaced = deliveries.Where(d => positions.GetValueOrDefault(d.Value) != (d.Partition, d.Offset)).Take(5).ToList();
        Assert.True(misplaced.Count == 0, "consumed at a partition/offset the log does not hold them: " + string.Join(", ", misplaced));
        var missing = expected.Except(deliveries.Select(d => d.Value)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} produced messages never consumed, e.g. {string.Join(", ", missing.Take(5))}");

        var duplicates = deliveries.Count - MessageCount;
        output.WriteLine($"{deliveries.Count:N0} deliveries of {MessageCount:N0} messages: {duplicates} duplicates; produce {result.GetProperty("produceMs").GetInt32()} ms, "
            + $"last message consumed {result.GetProperty("catchUpMs").GetInt32()} ms after the last send, commits caught up {result.GetProperty("committedMs").GetInt32()} ms later");
        foreach (var consumer in deliveries.GroupBy(d => d.Consumer).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            output.WriteLine($"  {consumer.Key}: {consumer.Count():N0} messages from partitions {string.Join(",", consumer.Select(d => d.Partition).Distinct().Order())}");
        }

        Assert.True(duplicates <= DuplicatesMax, $"{duplicates} duplicates (more than {DuplicatesMax})");
        var perConsumer = deliveries.GroupBy(d => d.Consumer).ToDictionary(g => g.Key, g => g.Count());
        Assert.True(perConsumer.GetValueOrDefault("c2") > 0, "c2 consumed nothing before it left");
        Assert.True(perConsumer.GetValueOrDefault("c4") > 0, "c4 consumed nothing after it joined");

        // The new partitions hold messages (the producer saw them) and the group consumed them.
        var endOffsets = log.GroupBy(m => m.Partition).ToDictionary(g => g.Key, g => g.Max(m => m.Offset) + 1);
        Assert.Equal(Enumerable.Range(0, PartitionsAtEnd), endOffsets.Keys.Order());
        var consumedPartitions = deliveries.Select(d => d.Partition).ToHashSet();
        Assert.All(Enumerable.Range(PartitionsAtStart, PartitionsAtEnd - PartitionsAtStart), p => Assert.Contains(p, consumedPartitions));

        // Committed offsets (kafkajs admin fetchOffsets) = end offsets (fetchTopicOffsets) = what the log holds.
        var ends = Offsets(result.GetProperty("ends"));
        var committed = Offsets(result.GetProperty("committed"));
        Assert.Equal(endOffsets.OrderBy(e => e.Key), ends.OrderBy(e => e.Key));
        Assert.Equal(ends.OrderBy(e => e.Key), committed.OrderBy(e => e.Key));

        // The last generation before anyone left: c1, c3 and c4 own all 12 partitions, each exactly once.
        var finalAssignments = result.GetProperty("finalAssignments").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(e => e.GetInt32()).ToList());
        Assert.Equal(["c1", "c3", "c4"], finalAssignments.Keys.Order());
        Assert.All(finalAssignments.Values, a => Assert.NotEmpty(a));
        Assert.Equal(Enumerable.Range(0, PartitionsAtEnd), finalAssignments.Values.SelectMany(a => a).Order());
    }

    public void Dispose() => _work.Delete(recursive: true);

    private static Dictionary<int, long> Offsets(JsonElement array) =>
        array.EnumerateArray().ToDictionary(e => e.GetProperty("partition").GetInt32(), e => e.GetProperty("offset").GetInt64());

    private static List<(string Value, int Partition, long Offset, string Consumer)> ReadDeliveries(string path) =>
        [.. File.ReadLines(path)
            .Where(l => l.Length > 0)
            .Select(l => l.Split(' '))
            .Select(f => (f[0], int.Parse(f[1], CultureInfo.InvariantCulture), long.Parse(f[2], CultureInfo.InvariantCulture), f[3]))];
}
