using System.Text.Json;
using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

public sealed class KafkaJsAdminProduceTests : IDisposable
{
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(90);

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("tributary-interop-kafkajs-");

    // Proves kafkajs's admin client and producer work end to end: topics created (and "already exists" reported as
    // false), cluster and topic metadata, an acks=-1 gzip produce acknowledged at offset 0 of every partition, topic
    // offsets, and a topic deleted; then librdkafka (kcat) reads kafkajs's gzip batches back exactly.
    [Fact]
    public async Task KafkaJsAdminCreatesDescribesProducesGzipAndDeletesTopics()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { InMemory = false, DataDirectory = Path.Combine(_work.FullName, "data") });

        var run = await NodeRunner.RunAsync("admin-produce.mjs", NodeTimeout, broker.BootstrapServers, "js");

        using var json = NodeRunner.LastJsonLine(run);
        var result = json.RootElement;
        Assert.True(run.ExitCode == 0 && !result.TryGetProperty("error", out _), "kafkajs script failed: " + run.Describe());

        Assert.True(result.GetProperty("created").GetBoolean(), "createTopics reported the new topics as existing");
        Assert.False(result.GetProperty("createdAgain").GetBoolean(), "createTopics of an existing topic reported it as created");
        Assert.Equal(["js-doomed", "js-orders"], Strings(result.GetProperty("topicsAfterCreate")));

        var cluster = result.GetProperty("cluster");
        var node = Assert.Single(cluster.GetProperty("brokers").EnumerateArray());
        var nodeId = node.GetProperty("nodeId").GetInt32();
        Assert.Equal("127.0.0.1", node.GetProperty("host").GetString());
        Assert.Equal(broker.Port, node.GetProperty("port").GetInt32());
        Assert.Equal(nodeId, cluster.GetProperty("controller").GetInt32());
        Assert.False(string.IsNullOrEmpty(cluster.GetProperty("clusterId").GetString()));

        var metadata = result.GetProperty("metadata").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!);
        AssertPartitions(metadata["js-orders"], 3, nodeId);
        AssertPartitions(metadata["js-doomed"], 2, nodeId);

        var produced = result.GetProperty("produced").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2], produced.Select(p => p.GetProperty("partition").GetInt32()));
        Assert.All(produced, p =>
        {
            Assert.Equal(0, p.GetProperty("errorCode").GetInt32());
            Assert.Equal("0", p.GetProperty("baseOffset").GetString());
        });

        var offsets = result.GetProperty("offsets").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2], offsets.Select(o => o.GetProperty("partition").GetInt32()));
        Assert.All(offsets, o =>
        {
            Assert.Equal("0", o.GetProperty("low").GetString());
            Assert.Equal("10", o.GetProperty("high").GetString());
        });

        Assert.Equal(["js-orders"], Strings(result.GetProperty("topicsAfterDelete")));

        var messages = await KcatRunner.ConsumeAllAsync(broker.BootstrapServers, "js-orders", Path.Combine(_work.FullName, "consumed.json"));
        Assert.Equal(30, messages.Count);
        foreach (var m in messages)
        {
            var i = int.Parse(m.Payload!.AsSpan("value-".Length), System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal($"value-{i}", m.Payload);
            Assert.Equal(i % 3, m.Partition);
            Assert.Equal(i / 3, m.Offset);
            Assert.Equal($"key-{i % 6}", m.Key);
            Assert.Equal(["source", "kafkajs", "seq", i.ToString(System.Globalization.CultureInfo.InvariantCulture)], m.Headers ?? []);
        }

        Assert.Equal(Enumerable.Range(0, 30), messages.Select(m => int.Parse(m.Payload!.AsSpan(6), System.Globalization.CultureInfo.InvariantCulture)).Order());
    }

    public void Dispose() => _work.Delete(recursive: true);

    private static List<string> Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];

    private static void AssertPartitions(JsonElement topic, int count, int nodeId)
    {
        var partitions = topic.GetProperty("partitions").EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(0, count), partitions.Select(p => p.GetProperty("partitionId").GetInt32()));
        Assert.All(partitions, p =>
        {
            Assert.Equal(0, p.GetProperty("errorCode").GetInt32());
            Assert.Equal(nodeId, p.GetProperty("leader").GetInt32());
            Assert.Equal([nodeId], p.GetProperty("replicas").EnumerateArray().Select(r => r.GetInt32()));
            Assert.Equal([nodeId], p.GetProperty("isr").EnumerateArray().Select(r => r.GetInt32()));
        });
    }
}
