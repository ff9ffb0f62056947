using System.Diagnostics.Metrics;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Server.Client;

namespace Tributary.Server.Tests;

/// <summary>The broker's own time per request (<c>tributary.request.duration</c>), as a metrics listener reads it.</summary>
public sealed class RequestMetricsTests
{
    [Fact]
    public async Task EachAnsweredRequestRecordsItsApiAndTheBrokersTimeIncludingAParkedFetchsWait()
    {
        var options = new TributaryBrokerOptions();
        options.Topics["timed"] = 1;
        await using var broker = await TributaryBroker.StartAsync(options);

        var measured = new System.Collections.Concurrent.ConcurrentQueue<(string Api, double Seconds)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Tributary.Server" && instrument.Name == "tributary.request.duration")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            string? api = null;
            var ours = false;
            foreach (var tag in tags)
            {
                if (tag.Key == "kafka.api")
                {
                    api = tag.Value as string;
                }
                else if (tag.Key == "network.local.port" && tag.Value is int port && port == broker.Port)
                {
                    ours = true;
                }
            }

            if (ours && api is not null)
            {
                measured.Enqueue((api, value));
            }
        });
        listener.Start();

        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var builder = new RecordBatchBuilder();
        builder.Add(1_700_000_000_000, null, "v"u8.ToArray(), null);
        var produced = await client.SendAsync<ProduceRequest, ProduceResponse>(ApiKey.Produce, 9, new ProduceRequest
        {
            Acks = 1,
            TimeoutMs = 10_000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = "timed", PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = builder.Build() }] }],
        });
        Assert.Equal(0, produced.Responses[0].PartitionResponses[0].ErrorCode);

        // A fetch past the end parks for its whole MaxWaitMs: the broker's time for it includes that wait.
        var fetched = await client.SendAsync<FetchRequest, FetchResponse>(ApiKey.Fetch, 12, new FetchRequest
        {
            ReplicaId = -1,
            MaxWaitMs = 400,
            MinBytes = 1,
            MaxBytes = 1024 * 1024,
            SessionEpoch = -1,
            Topics = [new FetchRequest.FetchTopic { Topic = "timed", Partitions = [new FetchRequest.FetchPartition { Partition = 0, FetchOffset = 1, PartitionMaxBytes = 1024 * 1024, LogStartOffset = -1 }] }],
        }).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, fetched.Responses[0].Partitions[0].ErrorCode);
        Assert.Equal(0, fetched.Responses[0].Partitions[0].Records?.Length ?? 0);

        var produce = Assert.Single(measured, m => m.Api == "Produce");
        Assert.InRange(produce.Seconds, double.Epsilon, 30);
        var fetch = Assert.Single(measured, m => m.Api == "Fetch");
        Assert.InRange(fetch.Seconds, 0.35, 30);
    }
}
