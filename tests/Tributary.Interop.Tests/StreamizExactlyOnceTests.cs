using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.SerDes;
using Streamiz.Kafka.Net.Table;
using Tributary.Broker.Dispatch;
using Tributary.Interop.Tests.Support;
using Tributary.Protocol;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// Streamiz.Kafka.Net 1.8.2 (a Kafka Streams port on Confluent.Kafka) runs a topology with a repartition (records
/// grouped by a new key) and a counting state store backed by a compacted changelog, with exactly-once processing.
/// The first instance is killed mid-stream: every request of its clients is answered by a dropped connection from
/// then on, so it commits nothing more, and its open transaction is aborted by the broker. A second instance takes
/// over, restores the store from the changelog and goes on. Read committed, each category's counts are exactly 1..n,
/// n being how many input records have that category: every input counted once, none lost.
/// </summary>
public sealed class StreamizExactlyOnceTests(ITestOutputHelper output)
{
    private const string Application = "streamiz-counts";
    private const string Input = "streamiz-input";
    private const string Output = "streamiz-output";
    private const int Categories = 5;
    private const int RecordsPerHalf = 500;

    [Fact]
    public async Task CountsAreExactAfterTheFirstInstanceIsKilledMidStream()
    {
        output.WriteLine($"librdkafka {Librdkafka.EnsureLoaded()}");
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { Topics = { [Input] = 2, [Output] = 2 } });
        var killed = 0;
        foreach (var key in Enum.GetValues<ApiKey>())
        {
            broker.Intercept(key, context => Volatile.Read(ref killed) == 1 && context.ClientId?.StartsWith("instance-a", StringComparison.Ordinal) == true
                ? new InterceptDecision(DropConnection: true)
                : InterceptDecision.Continue);
        }

        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = broker.BootstrapServers, Acks = Acks.All }).Build();
        var expected = new int[Categories];
        async Task ProduceAsync(int from)
        {
            for (var i = from; i < from + RecordsPerHalf; i++)
            {
                await producer.ProduceAsync(Input, new Message<string, string> { Key = $"user-{i}", Value = $"c{i % Categories}" });
                expected[i % Categories]++;
            }
        }

        var first = Start(broker, "instance-a");
        await ProduceAsync(0);
        var seen = await ReadCountsAsync(broker, counts => counts.Values.Sum(c => c.Count) > 0, TimeSpan.FromSeconds(60));
        Assert.NotEmpty(seen);

        // More input, then the kill while the first instance is processing it.
        await ProduceAsync(RecordsPerHalf);
        Volatile.Write(ref killed, 1);
        _ = Task.Run(first.Dispose);

        using var second = Start(broker, "instance-b");
        var done = await ReadCountsAsync(
            broker,
            counts => Enumerable.Range(0, Categories).All(c => counts.TryGetValue($"c{c}", out var values) && values.Count > 0 && values[^1] == expected[c]),
            TimeSpan.FromSeconds(150));

        for (var c = 0; c < Categories; c++)
        {
            Assert.Equal(Enumerable.Range(1, expected[c]).Select(n => (long)n), done[$"c{c}"]);
        }

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = broker.BootstrapServers }).Build();
        var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));
        var changelog = Assert.Single(metadata.Topics, t => t.Topic.StartsWith(Application, StringComparison.Ordinal) && t.Topic.EndsWith("-changelog", StringComparison.Ordinal)).Topic;
        Assert.Contains(metadata.Topics, t => t.Topic.StartsWith(Application, StringComparison.Ordinal) && t.Topic.EndsWith("-repartition", StringComparison.Ordinal));
        var configs = await admin.DescribeConfigsAsync([new ConfigResource { Type = ResourceType.Topic, Name = changelog }]);
        Assert.Equal("compact", configs.Single().Entries["cleanup.policy"].Value);
    }

    private static KafkaStream Start(TributaryBroker broker, string clientId)
    {
        var config = new StreamConfig<StringSerDes, StringSerDes>
        {
            ApplicationId = Application,
            ClientId = clientId,
            BootstrapServers = broker.BootstrapServers,
            Guarantee = ProcessingGuarantee.EXACTLY_ONCE,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            DefaultCacheEnabled = false,
            ReplicationFactor = 1,
            SessionTimeoutMs = 10_000,
            HeartbeatIntervalMs = 1_000,
            MaxPollIntervalMs = 20_000,
            TransactionTimeout = TimeSpan.FromSeconds(10),
        };
        var builder = new StreamBuilder();
        builder.Stream<string, string>(Input)
            .GroupBy((_, category, _) => category)
            .Count(InMemory.As<string, long>("counts").WithValueSerdes<Int64SerDes>())
            .ToStream()
            .To<StringSerDes, Int64SerDes>(Output);
        var stream = new KafkaStream(builder.Build(), config);
        stream.StartAsync().GetAwaiter().GetResult();
        return stream;
    }

    /// <summary>Every count written to the output that read_committed sees, by category in order, once <paramref name="complete"/> holds.</summary>
    private async Task<Dictionary<string, List<long>>> ReadCountsAsync(TributaryBroker broker, Func<Dictionary<string, List<long>>, bool> complete, TimeSpan timeout)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = broker.BootstrapServers,
            GroupId = $"verifier-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            IsolationLevel = IsolationLevel.ReadCommitted,
        }).Build();
        consumer.Subscribe(Output);
        var counts = new Dictionary<string, List<long>>();
        var deadline = DateTime.UtcNow + timeout;
        while (!complete(counts) && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(500)) is { Message: { } message })
            {
                // Streamiz's Int64SerDes writes BitConverter's bytes (little-endian), unlike Confluent's big-endian one.
                (counts.TryGetValue(message.Key, out var values) ? values : counts[message.Key] = []).Add(BitConverter.ToInt64(message.Value));
            }
        }

        output.WriteLine(string.Join(", ", counts.OrderBy(c => c.Key).Select(c => $"{c.Key}: {c.Value.Count} values, last {c.Value[^1]}")));
        consumer.Close();
        return counts;
    }
}
