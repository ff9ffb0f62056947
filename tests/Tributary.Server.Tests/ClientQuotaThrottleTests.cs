using System.Diagnostics.Metrics;
using Tributary.Broker.Quotas;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Server.Client;

namespace Tributary.Server.Tests;

/// <summary>
/// KIP-219 over a real socket: a producer past its producer_byte_rate gets throttle_time_ms in its responses, and a
/// client that ignores it and keeps sending is held anyway: its connection reads nothing for the throttle time, so
/// few of its requests are appended in a window while the others wait unread. The throttle is also a metric.
/// </summary>
public sealed class ClientQuotaThrottleTests
{
    private const int QuotaBytesPerSecond = 100_000;
    private const int ValueBytes = 190_000;
    private const int Requests = 30;

    [Fact]
    public async Task AProducerIgnoringThrottleTimeIsHeldByTheBrokerAnyway()
    {
        var options = new TributaryBrokerOptions();
        options.Topics["held"] = 1;
        await using var broker = await TributaryBroker.StartAsync(options);
        broker.Core.Metadata.AlterClientQuotas([(new ClientQuotaEntity(null, new QuotaEntityName("greedy")), ClientQuotaKeys.ProducerByteRate, QuotaBytesPerSecond)]);

        var throttles = new System.Collections.Concurrent.ConcurrentQueue<(string? Api, int Ms)>();
        using var meter = new MeterListener();
        meter.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Tributary.Server" && instrument.Name == "tributary.request.throttle.time")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        meter.SetMeasurementEventCallback<int>((_, value, tags, _) =>
        {
            string? api = null;
            var ours = false;
            foreach (var tag in tags)
            {
                api = tag.Key == "kafka.api" ? tag.Value as string : api;
                ours |= tag.Key == "network.local.port" && tag.Value is int port && port == broker.Port;
            }

            if (ours)
            {
                throttles.Enqueue((api, value));
            }
        });
        meter.Start();

        // Every request is written at once, without waiting for answers: a client that never honours throttle_time_ms.
        await using var greedy = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var frames = Enumerable.Range(1, Requests).Select(i => KafkaWireClient.Encode(ApiKey.Produce, 9, i, "greedy", Produce())).ToList();
        var sending = Task.Run(async () =>
        {
            foreach (var frame in frames)
            {
                await greedy.WriteRawAsync(frame);
            }
        });

        // The first window counts as 10 s (plus the few ms the requests took): 5 × 190 kB is within 100 kB/s; the 6th
        // brings 1.14 MB, about 140 kB over what 10 s allow: about 1.4 s at 100 kB/s, less the time the requests took.
        var answers = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            answers.Add(ThrottleOf(await greedy.ReadFrameAsync()));
        }

        Assert.Equal([0, 0, 0, 0, 0], answers[..5]);
        Assert.InRange(answers[5], 500, 1500);

        // Held: in the next 2.5 s the broker takes at most two requests from this connection (each throttled for
        // longer than the one before), though 24 more are sent. A connection that kept reading would append them all.
        await using var observer = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var before = await HighWatermarkAsync(observer);
        await Task.Delay(2500);
        var after = await HighWatermarkAsync(observer);
        Assert.InRange(after - before, 0, 4);
        Assert.True(after < Requests, $"{after} of {Requests} produces were appended while the client was throttled");

        var next = ThrottleOf(await greedy.ReadFrameAsync());
        Assert.True(next > answers[5], $"the 7th answer's throttle {next} ms is not longer than the 6th's {answers[5]} ms");
        Assert.Contains(throttles, t => t == ("Produce", answers[5]));
        _ = sending;
    }

    private static ProduceRequest Produce()
    {
        var builder = new RecordBatchBuilder();
        builder.Add(1_700_000_000_000, null, new byte[ValueBytes], null);
        return new ProduceRequest
        {
            Acks = 1,
            TimeoutMs = 10_000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = "held", PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = builder.Build() }] }],
        };
    }

    private static int ThrottleOf(byte[] frame)
    {
        var reader = new KafkaReader(frame);
        ResponseHeader.Read(ref reader, KafkaApis.Find((short)ApiKey.Produce)!.ResponseHeaderVersion(9));
        var response = ProduceResponse.Read(ref reader, 9);
        Assert.Equal(0, response.Responses[0].PartitionResponses[0].ErrorCode);
        return response.ThrottleTimeMs;
    }

    private static async Task<long> HighWatermarkAsync(KafkaWireClient client)
    {
        var response = await client.SendAsync<ListOffsetsRequest, ListOffsetsResponse>(ApiKey.ListOffsets, 7, new ListOffsetsRequest
        {
            ReplicaId = -1,
            Topics = [new ListOffsetsRequest.ListOffsetsTopic { Name = "held", Partitions = [new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = 0, Timestamp = -1 }] }],
        });
        return response.Topics[0].Partitions[0].Offset;
    }
}
