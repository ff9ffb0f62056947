using Confluent.Kafka;
using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// Confluent.Kafka 2.16.0 with group.protocol=consumer subscribing to a regex: librdkafka sends it to the broker
/// (KIP-848 resolves regexes on the broker), which assigns the matching topics and, once a new matching topic is
/// created, that one too.
/// </summary>
public sealed class ConfluentKafkaRegexSubscriptionTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_regex_subscription_reads_the_matching_topics_and_one_created_later()
    {
        Librdkafka.EnsureLoaded();
        var options = new TributaryBrokerOptions { Topics = { ["prefix-a"] = 2, ["prefix-b"] = 1, ["other"] = 1 } };
        options.Config["group.consumer.heartbeat.interval.ms"] = "500";
        await using var broker = await TributaryBroker.StartAsync(options);
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = broker.BootstrapServers }).Build();
        foreach (var topic in new[] { "prefix-a", "prefix-b", "other" })
        {
            await producer.ProduceAsync(topic, new Message<Null, string> { Value = $"in {topic}" });
        }

        using var consumer = new ConsumerBuilder<Null, string>(new ConsumerConfig
        {
            BootstrapServers = broker.BootstrapServers,
            GroupId = "regex-group",
            GroupProtocol = GroupProtocol.Consumer,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Subscribe("^prefix-.*");
        var seen = new HashSet<string>();
        ConsumeUntil(consumer, seen, ["in prefix-a", "in prefix-b"]);
        Assert.Equal(["in prefix-a", "in prefix-b"], seen.Order());
        // librdkafka joins its subscription's regexes as "(r1)|(r2)".
        Assert.Equal("(^prefix-.*)", broker.Core.Groups.DescribeConsumerGroup("regex-group")!.Members.Single().SubscribedTopicRegex);

        await broker.CreateTopicAsync("prefix-c");
        await producer.ProduceAsync("prefix-c", new Message<Null, string> { Value = "in prefix-c" });
        ConsumeUntil(consumer, seen, ["in prefix-c"]);
        output.WriteLine($"read {string.Join(", ", seen)}; assignment {string.Join(", ", consumer.Assignment)}");
        Assert.Equal(["in prefix-a", "in prefix-b", "in prefix-c"], seen.Order());
        Assert.DoesNotContain(consumer.Assignment, tp => tp.Topic == "other");
        consumer.Close();
    }

    private static void ConsumeUntil(IConsumer<Null, string> consumer, HashSet<string> seen, string[] wanted)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!wanted.All(seen.Contains) && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } result)
            {
                seen.Add(result.Message.Value);
            }
        }
    }
}
