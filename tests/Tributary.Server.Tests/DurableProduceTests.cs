using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Server.Client;

namespace Tributary.Server.Tests;

/// <summary>
/// Produce with fsync before the answer (<c>log.flush.interval.messages=1</c>) on a real broker with files: pipelined
/// produces are answered in order while their flushes overlap, an answer of another kind waits for them, and what was
/// answered is there after a restart.
/// </summary>
public sealed class DurableProduceTests
{
    [Fact]
    public async Task PipelinedProducesWithFlushBeforeAnswerAreAnsweredInOrderAndSurviveARestart()
    {
        var options = new TributaryBrokerOptions { InMemory = false };
        options.Config["log.flush.interval.messages"] = "1";
        options.Topics["durable"] = 2;
        await using var broker = await TributaryBroker.StartAsync(options);
        await using (var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers))
        {
            // 40 produces to two partitions, then a metadata request, all written at once before any answer is read.
            var frames = new List<byte>();
            for (var i = 0; i < 40; i++)
            {
                var builder = new RecordBatchBuilder();
                builder.Add(1_700_000_000_000, null, System.Text.Encoding.UTF8.GetBytes($"v{i}-" + new string('x', 2000)), null);
                var request = new ProduceRequest
                {
                    Acks = -1,
                    TimeoutMs = 10_000,
                    TopicData = [new ProduceRequest.TopicProduceData { Name = "durable", PartitionData = [new ProduceRequest.PartitionProduceData { Index = i % 2, Records = builder.Build() }] }],
                };
                frames.AddRange(KafkaWireClient.Encode(ApiKey.Produce, 9, 100 + i, "t", request));
            }

            frames.AddRange(KafkaWireClient.Encode(ApiKey.Metadata, 12, 200, "t", new MetadataRequest { Topics = [new MetadataRequest.MetadataRequestTopic { Name = "durable" }] }));
            await client.WriteRawAsync([.. frames]);

            for (var i = 0; i < 40; i++)
            {
                var frame = await client.ReadFrameAsync().WaitAsync(TimeSpan.FromSeconds(30));
                var reader = new KafkaReader(frame);
                Assert.Equal(100 + i, ResponseHeader.Read(ref reader, 1).CorrelationId);
                var partition = ProduceResponse.Read(ref reader, 9).Responses.Single().PartitionResponses.Single();
                Assert.Equal((short)0, partition.ErrorCode);
                Assert.Equal(i % 2, partition.Index);
                Assert.Equal(i / 2, partition.BaseOffset); // each partition's offsets in the order the requests came
            }

            var metadata = await client.ReadFrameAsync().WaitAsync(TimeSpan.FromSeconds(30));
            var metadataReader = new KafkaReader(metadata);
            Assert.Equal(200, ResponseHeader.Read(ref metadataReader, 1).CorrelationId); // after every produce answer
        }

        await broker.RestartAsync();
        await using var after = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        for (var p = 0; p < 2; p++)
        {
            var values = await WireRoundTrip.FetchValuesAsync(after, "durable", p, 0);
            Assert.Equal([.. Enumerable.Range(0, 40).Where(i => i % 2 == p).Select(i => $"v{i}-" + new string('x', 2000))], values);
        }
    }
}
