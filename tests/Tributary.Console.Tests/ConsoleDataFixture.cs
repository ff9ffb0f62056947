using System.Text;
using Confluent.Kafka;

namespace Tributary.Console.Tests;

/// <summary>
/// The console fixture with data put in by Confluent.Kafka: "orders" (3 partitions, JSON values, keys, headers; one
/// record whose customer id and trace header the searches look for), "bulk" (3 partitions of plain records, for the
/// cancelled search) and the group "billing" with offsets committed on "orders", so it lags.
/// </summary>
public sealed class ConsoleDataFixture : ConsoleFixture
{
    public const int OrdersPerPartition = 4;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await Broker.CreateTopicAsync("orders", 3);
        await Broker.CreateTopicAsync("bulk", 3);
        using var producer = Producer();
        for (var i = 0; i < 3 * OrdersPerPartition; i++)
        {
            var customer = i == 7 ? "c-needle" : $"c-{i % 2}";
            var headers = new Headers { { "source", Encoding.UTF8.GetBytes("web") }, { "trace-id", Encoding.UTF8.GetBytes(i == 7 ? "t-needle" : $"t-{i}") } };
            var value = $"{{\"id\":{i},\"customer\":{{\"id\":\"{customer}\",\"tier\":\"gold\"}},\"total\":{10 + i}}}";
            await producer.ProduceAsync(new TopicPartition("orders", i % 3), new Message<string?, string> { Key = $"order-{i}", Value = value, Headers = headers });
        }

        for (var i = 0; i < 300; i++)
        {
            await producer.ProduceAsync(new TopicPartition("bulk", i % 3), new Message<string?, string> { Key = null, Value = $"bulk record {i} " + new string('x', 200) });
        }

        // "timed": records stamped 1000, 2000 and 3000 ms; "zipped": gzip-compressed batches.
        await Broker.CreateTopicAsync("timed", 1);
        await Broker.CreateTopicAsync("zipped", 1);
        for (var i = 1; i <= 3; i++)
        {
            await producer.ProduceAsync(new TopicPartition("timed", 0), new Message<string?, string> { Key = $"t{i}", Value = $"at {i * 1000}", Timestamp = new Timestamp(i * 1000, TimestampType.CreateTime) });
        }

        using (var zipper = new ProducerBuilder<string?, string>(new ProducerConfig { BootstrapServers = Broker.BootstrapServers, CompressionType = CompressionType.Gzip, LingerMs = 0 }).Build())
        {
            for (var i = 0; i < 3; i++)
            {
                await zipper.ProduceAsync(new TopicPartition("zipped", 0), new Message<string?, string> { Key = null, Value = $"{{\"zipped\":{i}}}" });
            }
        }

        // The group commits 2 of partition 0, 1 of partition 1 and nothing of partition 2: lag 2 + 3 = 5 on partitions 0 and 1.
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = Broker.BootstrapServers, GroupId = "billing" }).Build();
        consumer.Commit([new TopicPartitionOffset("orders", 0, 2), new TopicPartitionOffset("orders", 1, 1)]);
    }
}
