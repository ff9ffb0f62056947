using Confluent.Kafka;
using Tributary.Interop.Tests.Support;
using Tributary.Server;
using Tributary.Storage.Cleaning;

namespace Tributary.Interop.Tests;

/// <summary>
/// Confluent.Kafka (librdkafka) against a compacted topic: after the log cleaner ran, a consumer reading from offset
/// 0 gets, for every key, its latest value at the offset the producer was told, and fewer records than were sent.
/// </summary>
public sealed class ConfluentKafkaCompactionTests(ITestOutputHelper output)
{
    private const string Topic = "compacted";
    private const int MessageCount = 400;
    private const int KeyCount = 10;

    [Fact]
    public async Task A_consumer_from_offset_zero_reads_the_latest_value_per_key_at_its_original_offset()
    {
        Librdkafka.EnsureLoaded();
        var options = new TributaryBrokerOptions();
        options.Config["log.cleaner.enable"] = "false"; // the test runs the cleaner itself, once
        await using var broker = await TributaryBroker.StartAsync(options);
        await broker.CreateTopicAsync(Topic, 1, new Dictionary<string, string>
        {
            ["cleanup.policy"] = "compact",
            ["segment.bytes"] = "2048",
            ["min.cleanable.dirty.ratio"] = "0.01",
        });

        var produced = new Dictionary<string, (long Offset, string Value)>();
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = broker.BootstrapServers, LingerMs = 0 }).Build())
        {
            for (var i = 0; i < MessageCount; i++)
            {
                var key = $"key-{i % KeyCount}";
                var result = await producer.ProduceAsync(Topic, new Message<string, string> { Key = key, Value = $"value-{i}" });
                produced[key] = (result.Offset.Value, result.Message.Value);
            }
        }

        var log = Assert.Single(broker.Core.Logs.Logs, l => l.Topic == Topic);
        var segmentsBefore = log.SegmentCount;
        var cleaned = new LogCleaner(broker.Core.Logs).CleanDirtiest();
        Assert.NotNull(cleaned);
        output.WriteLine($"{segmentsBefore} segments; cleaned {cleaned.SegmentsReplaced}, {cleaned.BytesBefore} → {cleaned.BytesAfter} bytes, {cleaned.RecordsRemoved} records removed");

        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = broker.BootstrapServers,
            GroupId = "compacted-reader",
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new TopicPartitionOffset(Topic, 0, Offset.Beginning));
        var consumed = new List<(long Offset, string Key, string Value)>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && (consumed.Count == 0 || consumed[^1].Offset < MessageCount - 1))
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false } result)
            {
                consumed.Add((result.Offset.Value, result.Message.Key, result.Message.Value));
            }
        }

        output.WriteLine($"consumed {consumed.Count} of {MessageCount} produced");
        Assert.True(consumed.Count < MessageCount, "compaction removed superseded records");
        Assert.Equal(consumed.Select(c => c.Offset).Order(), consumed.Select(c => c.Offset));
        foreach (var c in consumed)
        {
            // Every record read is one that was produced at that offset (value-i sits at offset i).
            Assert.Equal($"value-{c.Offset}", c.Value);
        }

        var latest = consumed.GroupBy(c => c.Key).ToDictionary(g => g.Key, g => g.Last());
        Assert.Equal(KeyCount, latest.Count);
        foreach (var (key, (offset, value)) in produced)
        {
            Assert.Equal((offset, value), (latest[key].Offset, latest[key].Value));
        }
    }
}
