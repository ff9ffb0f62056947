using System.Text.Json;
using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

public sealed class KcatMetadataTests
{
    // Proves librdkafka's metadata view of the broker is right: the one broker at its advertised loopback address,
    // and every topic with its partitions, each led by that broker with itself as the only replica and ISR.
    [Fact]
    public async Task KcatListsTheBrokerAndEveryTopicWithItsPartitions()
    {
        var options = new TributaryBrokerOptions();
        options.Topics["alpha"] = 3;
        options.Topics["beta"] = 1;
        await using var broker = await TributaryBroker.StartAsync(options);

        using var metadata = await KcatRunner.MetadataAsync(broker.BootstrapServers);

        var root = metadata.RootElement;
        var brokers = root.GetProperty("brokers").EnumerateArray().ToList();
        var only = Assert.Single(brokers);
        var brokerId = only.GetProperty("id").GetInt32();
        Assert.Equal(broker.BootstrapServers, only.GetProperty("name").GetString());
        Assert.Equal(brokerId, root.GetProperty("controllerid").GetInt32());

        var topics = root.GetProperty("topics").EnumerateArray().ToDictionary(t => t.GetProperty("topic").GetString()!);
        Assert.Equal(["alpha", "beta"], topics.Keys.Order(StringComparer.Ordinal));
        AssertPartitions(topics["alpha"], 3, brokerId);
        AssertPartitions(topics["beta"], 1, brokerId);
    }

    // Proves a metadata request naming one topic answers for that topic only.
    [Fact]
    public async Task KcatListsOneTopicWhenAskedForIt()
    {
        var options = new TributaryBrokerOptions();
        options.Topics["alpha"] = 2;
        options.Topics["beta"] = 1;
        await using var broker = await TributaryBroker.StartAsync(options);

        using var metadata = await KcatRunner.MetadataAsync(broker.BootstrapServers, "alpha");

        var topic = Assert.Single(metadata.RootElement.GetProperty("topics").EnumerateArray());
        Assert.Equal("alpha", topic.GetProperty("topic").GetString());
        AssertPartitions(topic, 2, metadata.RootElement.GetProperty("brokers")[0].GetProperty("id").GetInt32());
    }

    private static void AssertPartitions(JsonElement topic, int count, int brokerId)
    {
        Assert.False(topic.TryGetProperty("error", out var error), $"topic error: {error}");
        var partitions = topic.GetProperty("partitions").EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(0, count), partitions.Select(p => p.GetProperty("partition").GetInt32()).Order());
        foreach (var p in partitions)
        {
            Assert.Equal(brokerId, p.GetProperty("leader").GetInt32());
            Assert.Equal([brokerId], p.GetProperty("replicas").EnumerateArray().Select(r => r.GetProperty("id").GetInt32()));
            Assert.Equal([brokerId], p.GetProperty("isrs").EnumerateArray().Select(r => r.GetProperty("id").GetInt32()));
        }
    }
}
