using System.Collections.Concurrent;
using System.Globalization;
using Confluent.Kafka;
using Tributary.Interop.Tests.Support;
using Tributary.Protocol;
using Tributary.Server;
using Tributary.TestSupport;

namespace Tributary.Interop.Tests;

/// <summary>
/// librdkafka 2.16's share consumer (KIP-932, through <see cref="ShareConsumer"/>) against the embedded broker: eight
/// consumers on a two-partition topic all receive records and together accept each exactly once; records a consumer
/// stops acknowledging, or a consumer process killed with SIGKILL holds, go to another after the lock expires,
/// delivered a second time; RELEASE redelivers, REJECT never does,
/// and a record released at every delivery is archived after group.share.delivery.count.limit deliveries; across a
/// broker restart on the same data, accepted records stay done and unacknowledged ones come back.
/// </summary>
public sealed class LibrdkafkaShareConsumerTests(ITestOutputHelper output)
{
    private const string Topic = "queue";
    private const string Group = "share-workers";
    private const string SinglePartitionTopic = "queue-1";

    [Fact]
    public async Task Eight_share_consumers_on_two_partitions_all_receive_and_accept_every_record_once()
    {
        const int records = 400;
        await using var broker = await StartAsync();
        var versions = new ConcurrentDictionary<ApiKey, short>();
        foreach (var key in new[] { ApiKey.ShareGroupHeartbeat, ApiKey.ShareFetch, ApiKey.ShareAcknowledge })
        {
            broker.Intercept(key, context =>
            {
                versions[context.ApiKey] = context.ApiVersion;
                return Broker.Dispatch.InterceptDecision.Continue;
            });
        }

        var accepted = new ConcurrentDictionary<(int Partition, long Offset), int>();
        var perConsumer = new int[8];
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var consumers = Enumerable.Range(0, 8).Select(i => Task.Run(() =>
        {
            using var consumer = new ShareConsumer(broker.BootstrapServers, Group, Topic, new Dictionary<string, string> { ["max.poll.records"] = "5" });
            while (!stop.IsCancellationRequested && accepted.Count < records)
            {
                foreach (var record in consumer.Poll(200))
                {
                    Thread.Sleep(1); // each record costs a little work, so the others get their share
                    consumer.Acknowledge(record, ShareConsumer.Accept);
                    accepted.AddOrUpdate((record.Partition, record.Offset), 1, (_, n) => n + 1);
                    Interlocked.Increment(ref perConsumer[i]);
                }
            }

            consumer.CommitSync(5000);
            output.WriteLine($"consumer {i} done after {perConsumer[i]} records");
        })).ToList();

        // Produced while the consumers run, in small batches, so that every consumer finds records to acquire.
        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = broker.BootstrapServers, LingerMs = 0 }).Build())
        {
            for (var i = 0; i < records; i++)
            {
                producer.Produce(new TopicPartition(Topic, i % 2), new Message<Null, string> { Value = $"r{i}" });
                if (i % 10 == 9)
                {
                    producer.Flush(TimeSpan.FromSeconds(10));
                    await Task.Delay(20);
                }
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        await Task.WhenAll(consumers).WaitAsync(TimeSpan.FromSeconds(150));
        output.WriteLine($"per consumer: {string.Join(", ", perConsumer)}; versions: {string.Join(", ", versions.Select(v => $"{v.Key} v{v.Value}"))}");
        Assert.Equal(records, accepted.Count);
        Assert.All(accepted.Values, n => Assert.Equal(1, n));
        Assert.All(perConsumer, n => Assert.True(n > 0, "every share consumer receives records"));

        // Everything accepted: the share partitions' start offsets reached the end of each partition.
        Assert.All(broker.Core.ShareGroups.StartOffsets(Group), p => Assert.Equal(records / 2, p.StartOffset));
    }

    [Fact]
    public async Task Records_of_a_consumer_that_stops_go_to_another_after_the_lock_expires_with_delivery_count_2()
    {
        // One partition, so both members are assigned it.
        await using var broker = await StartAsync();
        await broker.CreateTopicAsync(SinglePartitionTopic, 1);
        await ProduceToAsync(broker, SinglePartitionTopic, "a", "b", "c");
        using var stuck = new ShareConsumer(broker.BootstrapServers, Group, SinglePartitionTopic);
        var held = PollUntil(stuck, 3);
        Assert.All(held, r => Assert.Equal(1, r.DeliveryCount));

        // The first consumer never acknowledges nor polls again: after the 3 s lock its records go to the other.
        AssertRedeliveredToAnother(broker, [0, 1, 2]);
    }

    [Fact]
    public async Task Records_a_killed_consumer_process_held_go_to_another_after_the_lock_expires_with_delivery_count_2()
    {
        await using var broker = await StartAsync();
        await broker.CreateTopicAsync(SinglePartitionTopic, 1);
        await ProduceToAsync(broker, SinglePartitionTopic, "a", "b", "c");
        await using var probe = ChildProcess.Start(StandaloneBroker.DotnetHost,
            [RepositoryPaths.ShareConsumerProbeDll, broker.BootstrapServers, Group, SinglePartitionTopic, "3"]);
        var held = new List<(int Partition, long Offset, short DeliveryCount)>();
        while (true)
        {
            var line = await probe.WaitForLineAsync(l => l.StartsWith("held ", StringComparison.Ordinal) || l == "holding", TimeSpan.FromSeconds(90));
            if (line == "holding")
            {
                break;
            }

            var fields = line.Split(' ');
            held.Add((int.Parse(fields[1], CultureInfo.InvariantCulture), long.Parse(fields[2], CultureInfo.InvariantCulture), short.Parse(fields[3], CultureInfo.InvariantCulture)));
        }

        Assert.Equal([(0, 0L, (short)1), (0, 1L, (short)1), (0, 2L, (short)1)], held.Order());

        // SIGKILL: no leave, no session close, no release. The broker learns nothing until the 3 s locks expire.
        await probe.KillAsync();
        Assert.True(probe.HasExited);
        AssertRedeliveredToAnother(broker, [.. held.Select(h => h.Offset)]);
    }

    [Fact]
    public async Task Release_redelivers_reject_never_does_and_the_delivery_limit_archives_a_poison_record()
    {
        await using var broker = await StartAsync();
        await ProduceAsync(broker, "retry", "drop", "poison", "fine");
        using var consumer = new ShareConsumer(broker.BootstrapServers, Group, Topic);
        var deliveries = new List<(string Value, short Count)>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline && !(deliveries.Any(d => d.Value == "fine") && deliveries.Count(d => d.Value == "poison") == 3 && deliveries.Count(d => d.Value == "retry") == 2))
        {
            foreach (var record in consumer.Poll(500))
            {
                deliveries.Add((record.Value, record.DeliveryCount));
                var type = record.Value switch
                {
                    "retry" when record.DeliveryCount == 1 => ShareConsumer.Release,
                    "drop" => ShareConsumer.Reject,
                    "poison" => ShareConsumer.Release,
                    _ => ShareConsumer.Accept,
                };
                consumer.Acknowledge(record, type);
            }
        }

        // Polls after the poison record's last delivery: nothing more comes.
        for (var i = 0; i < 4; i++)
        {
            foreach (var record in consumer.Poll(500))
            {
                deliveries.Add((record.Value, record.DeliveryCount));
                consumer.Acknowledge(record, ShareConsumer.Accept);
            }
        }

        output.WriteLine(string.Join(", ", deliveries.Select(d => $"{d.Value}#{d.Count}")));
        Assert.Equal([1, 2], deliveries.Where(d => d.Value == "retry").Select(d => (int)d.Count));
        Assert.Equal([1], deliveries.Where(d => d.Value == "drop").Select(d => (int)d.Count));
        Assert.Equal([1, 2, 3], deliveries.Where(d => d.Value == "poison").Select(d => (int)d.Count));
        Assert.Equal([1], deliveries.Where(d => d.Value == "fine").Select(d => (int)d.Count));
        Assert.Equal(4, broker.Core.ShareGroups.StartOffsets(Group).Single(p => p.Partition == 0).StartOffset);
    }

    [Fact]
    public async Task After_a_broker_restart_accepted_records_stay_done_and_unacknowledged_ones_are_delivered_again()
    {
        await using var broker = await StartAsync(onDisk: true);
        await broker.CreateTopicAsync(SinglePartitionTopic, 1);
        string[] values = ["a", "b", "c", "d", "e", "f"];
        await ProduceToAsync(broker, SinglePartitionTopic, values);
        using (var first = new ShareConsumer(broker.BootstrapServers, Group, SinglePartitionTopic))
        {
            // All six are acquired; only a, b and c are accepted.
            var held = PollUntil(first, values.Length);
            foreach (var record in held.Where(r => r.Value is "a" or "b" or "c"))
            {
                first.Acknowledge(record, ShareConsumer.Accept);
            }

            first.CommitSync(5000);
        }

        await broker.RestartAsync();

        using var second = new ShareConsumer(broker.BootstrapServers, Group, SinglePartitionTopic);
        var again = PollUntil(second, 3);
        foreach (var record in again)
        {
            second.Acknowledge(record, ShareConsumer.Accept);
        }

        // A few more polls: nothing accepted before the restart is delivered again.
        var more = new List<ShareRecord>();
        for (var i = 0; i < 4; i++)
        {
            more.AddRange(second.Poll(500));
        }

        second.CommitSync(5000);
        Assert.Equal(["d", "e", "f"], again.Select(r => r.Value).Order());
        Assert.Empty(more);
        Assert.Equal(6, broker.Core.ShareGroups.StartOffsets(Group).Single().StartOffset);
    }

    /// <summary>A broker in memory, or on disk in a temporary directory (deleted on dispose) to restart it.</summary>
    private static async Task<TributaryBroker> StartAsync(bool onDisk = false)
    {
        Librdkafka.EnsureLoaded();
        var options = new TributaryBrokerOptions
        {
            InMemory = !onDisk,
            Topics = { [Topic] = 2 },
            Config =
            {
                ["group.share.record.lock.duration.ms"] = "3000",
                ["group.share.delivery.count.limit"] = "3",
                ["group.share.heartbeat.interval.ms"] = "500",
                ["group.share.session.timeout.ms"] = "6000",
            },
        };
        var broker = await TributaryBroker.StartAsync(options);
        broker.Core.Metadata.SetGroupConfigs(Group, new Dictionary<string, string> { ["share.auto.offset.reset"] = "earliest" });
        return broker;
    }

    // All to partition 0, one batch each.
    private static Task ProduceAsync(TributaryBroker broker, params string[] values) => ProduceToAsync(broker, Topic, values);

    private static async Task ProduceToAsync(TributaryBroker broker, string topic, params string[] values)
    {
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = broker.BootstrapServers, LingerMs = 0 }).Build();
        foreach (var value in values)
        {
            await producer.ProduceAsync(new TopicPartition(topic, 0), new Message<Null, string> { Value = value });
        }
    }

    // A new share consumer receives exactly the records a, b, c at these offsets of the one-partition topic, delivered
    // for the second time, and accepts them: the share partition is done with all three.
    private static void AssertRedeliveredToAnother(TributaryBroker broker, long[] offsets)
    {
        using var survivor = new ShareConsumer(broker.BootstrapServers, Group, SinglePartitionTopic);
        var redelivered = PollUntil(survivor, 3);
        Assert.Equal(offsets, redelivered.Select(r => r.Offset).Order());
        Assert.Equal(["a", "b", "c"], redelivered.Select(r => r.Value).Order());
        Assert.All(redelivered, r => Assert.Equal(2, r.DeliveryCount));
        foreach (var record in redelivered)
        {
            survivor.Acknowledge(record, ShareConsumer.Accept);
        }

        survivor.CommitSync(5000);
        Assert.Equal(3, broker.Core.ShareGroups.StartOffsets(Group).Single().StartOffset);
    }

    private static List<ShareRecord> PollUntil(ShareConsumer consumer, int count)
    {
        var records = new List<ShareRecord>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (records.Count < count && DateTime.UtcNow < deadline)
        {
            records.AddRange(consumer.Poll(500));
        }

        Assert.Equal(count, records.Count);
        return records;
    }
}
