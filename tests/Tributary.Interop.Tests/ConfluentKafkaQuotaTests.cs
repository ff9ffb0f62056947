using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Confluent.Kafka;
using Tributary.Interop.Tests.Support;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server;
using Tributary.Server.Client;

namespace Tributary.Interop.Tests;

/// <summary>
/// A Confluent.Kafka producer that always has more to send, held by a 1 MB/s producer_byte_rate quota: the quota
/// is set and described over the wire (Confluent.Kafka's admin client has no client quota API), the producer's
/// delivered rate over 30 s, after a warm-up, stays within 10% of the quota, no delivery fails, and librdkafka's
/// statistics show the broker's throttle time.
/// </summary>
public sealed class ConfluentKafkaQuotaTests(ITestOutputHelper output)
{
    private const double QuotaBytesPerSecond = 1_000_000;
    private const int ValueBytes = 10_000;
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Measured = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AProducerIsHeldToItsProducerByteRateWithoutErrorsAndSeesTheThrottle()
    {
        output.WriteLine($"librdkafka {Librdkafka.EnsureLoaded()}");
        var options = new TributaryBrokerOptions { Topics = { ["quota"] = 1 } };

        // Kafka measures rates over quota.window.num samples; a producer with an endless backlog gets its allowance in
        // bursts as the oldest sample expires, with the default 11 samples about 10 MB every 11 s (as from Kafka), so a
        // 30 s figure would depend on how many bursts it holds. Two 1 s samples make each burst about 1 MB.
        options.Config["quota.window.num"] = "2";
        await using var broker = await TributaryBroker.StartAsync(options);
        await using (var admin = await KafkaWireClient.ConnectAsync(broker.BootstrapServers))
        {
            var altered = await admin.SendAsync<AlterClientQuotasRequest, AlterClientQuotasResponse>(ApiKey.AlterClientQuotas, 1, new AlterClientQuotasRequest
            {
                Entries =
                [
                    new AlterClientQuotasRequest.EntryData
                    {
                        Entity = [new AlterClientQuotasRequest.EntityData { EntityType = "client-id", EntityName = "held-producer" }],
                        Ops = [new AlterClientQuotasRequest.OpData { Key = "producer_byte_rate", Value = QuotaBytesPerSecond }],
                    },
                ],
            });
            Assert.Equal(0, altered.Entries.Single().ErrorCode);
            var described = await admin.SendAsync<DescribeClientQuotasRequest, DescribeClientQuotasResponse>(ApiKey.DescribeClientQuotas, 1, new DescribeClientQuotasRequest
            {
                Components = [new DescribeClientQuotasRequest.ComponentData { EntityType = "client-id", MatchType = 0, Match = "held-producer" }],
            });
            Assert.Equal(("producer_byte_rate", QuotaBytesPerSecond), described.Entries!.Single().Values.Select(v => (v.Key, v.Value)).Single());
        }

        var delivered = new ConcurrentQueue<(TimeSpan At, int Bytes)>();
        var failures = new ConcurrentQueue<string>();
        var throttleMsMax = 0L;
        var clock = Stopwatch.StartNew();
        using (var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig
        {
            BootstrapServers = broker.BootstrapServers,
            ClientId = "held-producer",
            Acks = Acks.Leader,
            LingerMs = 5,
            QueueBufferingMaxKbytes = 4096,
            StatisticsIntervalMs = 1000,
        })
        .SetStatisticsHandler((_, json) => Interlocked.Exchange(ref throttleMsMax, Math.Max(Interlocked.Read(ref throttleMsMax), ThrottleMsMax(json))))
        .Build())
        {
            var value = new byte[ValueBytes];
            while (clock.Elapsed < WarmUp + Measured)
            {
                try
                {
                    producer.Produce("quota", new Message<Null, byte[]> { Value = value }, report =>
                    {
                        if (report.Error.IsError)
                        {
                            failures.Enqueue(report.Error.ToString());
                        }
                        else
                        {
                            delivered.Enqueue((clock.Elapsed, ValueBytes));
                        }
                    });
                }
                catch (ProduceException<Null, byte[]> e) when (e.Error.Code == Confluent.Kafka.ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(20));
                }
            }

            producer.Flush(TimeSpan.FromSeconds(30));
        }

        var measuredBytes = delivered.Where(d => d.At >= WarmUp && d.At < WarmUp + Measured).Sum(d => (long)d.Bytes);
        var rate = measuredBytes / Measured.TotalSeconds;
        for (var second = 0; second < (WarmUp + Measured).TotalSeconds; second += 5)
        {
            output.WriteLine($"{second,2}-{second + 5,2} s: {delivered.Where(d => d.At.TotalSeconds >= second && d.At.TotalSeconds < second + 5).Sum(d => (long)d.Bytes) / 5.0:N0} B/s");
        }

        output.WriteLine($"measured {rate:N0} B/s over {Measured.TotalSeconds} s; librdkafka's largest throttle {throttleMsMax} ms");
        Assert.Empty(failures);
        Assert.InRange(rate, QuotaBytesPerSecond * 0.9, QuotaBytesPerSecond * 1.1);
        Assert.True(throttleMsMax > 0, "librdkafka's statistics show no throttle time");
    }

    /// <summary>The largest <c>throttle.max</c> of the brokers in a librdkafka statistics document (ms).</summary>
    private static long ThrottleMsMax(string json)
    {
        using var document = JsonDocument.Parse(json);
        var max = 0L;
        foreach (var broker in document.RootElement.GetProperty("brokers").EnumerateObject())
        {
            if (broker.Value.TryGetProperty("throttle", out var throttle) && throttle.TryGetProperty("max", out var value))
            {
                max = Math.Max(max, value.GetInt64());
            }
        }

        return max;
    }
}
