using System.Collections.Concurrent;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Broker.Dispatch;
using Tributary.Interop.Tests.Support;
using Tributary.Protocol;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// Confluent.Kafka 2.16.0 (librdkafka 2.16, the client .NET teams use) against the embedded broker over loopback:
/// an idempotent acks=all producer, a classic consumer group that commits and a second member that resumes from
/// the commits, and the admin client's ListOffsets. librdkafka negotiates the highest version both sides serve;
/// the test records which versions it used.
/// </summary>
public sealed class ConfluentKafkaTests(ITestOutputHelper output)
{
    private const int MessageCount = 300;

    [Fact]
    public async Task ProducesConsumesCommitsAndListsOffsetsAtTheNegotiatedVersions()
    {
        output.WriteLine($"librdkafka {Librdkafka.EnsureLoaded()}");
        var options = new TributaryBrokerOptions { Topics = { ["confluent"] = 3 } };
        await using var broker = await TributaryBroker.StartAsync(options);
        var used = new ConcurrentDictionary<ApiKey, short>();
        foreach (var key in new[] { ApiKey.Produce, ApiKey.Fetch, ApiKey.Metadata, ApiKey.ListOffsets, ApiKey.OffsetCommit, ApiKey.OffsetFetch, ApiKey.InitProducerId, ApiKey.ApiVersions })
        {
            broker.Intercept(key, context =>
            {
                used.AddOrUpdate(context.ApiKey, context.ApiVersion, (_, v) => Math.Max(v, context.ApiVersion));
                return InterceptDecision.Continue;
            });
        }

        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = broker.BootstrapServers,
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = 5,
        }).Build())
        {
            for (var i = 0; i < MessageCount; i++)
            {
                producer.Produce("confluent", new Message<string, string> { Key = $"k{i % 17}", Value = $"v{i}" });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        var seen = ConsumeAndCommit(broker.BootstrapServers, "confluent-group", MessageCount);
        Assert.Equal(MessageCount, seen.Distinct().Count());

        // A second member of the group starts from the commits: nothing is left to read, and the committed
        // offsets (OffsetFetch) sum to every message.
        using (var resumed = NewConsumer(broker.BootstrapServers, "confluent-group"))
        {
            var partitions = Enumerable.Range(0, 3).Select(p => new TopicPartition("confluent", p)).ToList();
            var committed = resumed.Committed(partitions, TimeSpan.FromSeconds(10));
            Assert.Equal(MessageCount, committed.Sum(c => c.Offset.Value));
            resumed.Assign(committed);
            Assert.Null(resumed.Consume(TimeSpan.FromSeconds(2)));
        }

        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = broker.BootstrapServers }).Build())
        {
            var latest = await admin.ListOffsetsAsync(
                Enumerable.Range(0, 3).Select(p => new TopicPartitionOffsetSpec { TopicPartition = new TopicPartition("confluent", p), OffsetSpec = OffsetSpec.Latest() }),
                new ListOffsetsOptions { RequestTimeout = TimeSpan.FromSeconds(10) });
            Assert.Equal(MessageCount, latest.ResultInfos.Sum(r => r.TopicPartitionOffsetError.Offset.Value));
        }

        foreach (var (key, version) in used.OrderBy(u => u.Key))
        {
            output.WriteLine($"{key} v{version}");
        }

        // librdkafka 2.16's highest versions, all within the broker's ranges: Metadata v13 is Kafka 4.2's newest.
        // (No client here sends Produce v12-13, Fetch v18, ListOffsets v11 or OffsetCommit/OffsetFetch v10; the
        // broker tests drive those through the handlers at their wire encoding.)
        Assert.Equal(13, used[ApiKey.Metadata]);
        Assert.Equal(10, used[ApiKey.Produce]);
        Assert.Equal(16, used[ApiKey.Fetch]);
        Assert.Equal(9, used[ApiKey.OffsetCommit]);
        Assert.Equal(9, used[ApiKey.OffsetFetch]);
        Assert.Equal(7, used[ApiKey.ListOffsets]);
    }

    // librdkafka's KIP-848 consumer (group.protocol=consumer) sends SubscribedTopicRegex as "" when it subscribes
    // by name; two such members split a 4-partition topic between them and together read every message.
    [Fact]
    public async Task TwoConsumerProtocolMembersSplitATopic()
    {
        Librdkafka.EnsureLoaded();
        var options = new TributaryBrokerOptions { Topics = { ["confluent-848"] = 4 } };
        options.Config["group.consumer.heartbeat.interval.ms"] = "500";
        await using var broker = await TributaryBroker.StartAsync(options);
        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = broker.BootstrapServers }).Build())
        {
            for (var i = 0; i < MessageCount; i++)
            {
                producer.Produce(new TopicPartition("confluent-848", i % 4), new Message<Null, string> { Value = $"m{i}" });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        ConsumerConfig Config() => new()
        {
            BootstrapServers = broker.BootstrapServers,
            GroupId = "confluent-848-group",
            GroupProtocol = GroupProtocol.Consumer,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        };
        using var first = new ConsumerBuilder<Null, string>(Config()).Build();
        using var second = new ConsumerBuilder<Null, string>(Config()).Build();
        first.Subscribe("confluent-848");
        second.Subscribe("confluent-848");
        var seen = new HashSet<string>();
        var byMember = new[] { new HashSet<int>(), new HashSet<int>() };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((seen.Count < MessageCount || byMember.Any(m => m.Count == 0) || first.Assignment.Count + second.Assignment.Count < 4) && DateTime.UtcNow < deadline)
        {
            foreach (var (consumer, index) in new[] { (first, 0), (second, 1) })
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { } result)
                {
                    seen.Add(result.Message.Value);
                    byMember[index].Add(result.Partition.Value);
                }
            }
        }

        output.WriteLine($"read {seen.Count}; assignments {first.Assignment.Count} + {second.Assignment.Count}");
        Assert.Equal(MessageCount, seen.Count);
        Assert.Equal(4, first.Assignment.Count + second.Assignment.Count);
        Assert.NotEmpty(first.Assignment);
        Assert.NotEmpty(second.Assignment);
        first.Close();
        second.Close();
    }

    private List<string> ConsumeAndCommit(string bootstrap, string group, int count)
    {
        using var consumer = NewConsumer(bootstrap, group);
        consumer.Subscribe("confluent");
        var values = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (values.Count < count && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(500)) is { } result)
            {
                values.Add(result.Message.Value);
            }
        }

        consumer.Commit();
        output.WriteLine($"consumed {values.Count} of {count}");
        consumer.Close();
        return values;
    }

    private static IConsumer<string, string> NewConsumer(string bootstrap, string group)
    {
        Librdkafka.EnsureLoaded();
        return new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = group,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
    }
}
