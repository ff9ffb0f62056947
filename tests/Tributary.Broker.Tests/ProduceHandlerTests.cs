using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;

namespace Tributary.Broker.Tests;

public sealed class ProduceHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();
    private readonly ProduceHandler _handler;

    public ProduceHandlerTests() => _handler = new ProduceHandler(_broker.Core, NullLogger<ProduceHandler>.Instance);

    [Fact]
    public async Task A_request_for_many_partitions_answers_each_in_request_order_and_stores_each_valid_batch_once()
    {
        _broker.CreateTopic("a", partitions: 6);
        _broker.CreateTopic("b", partitions: 6);
        var value = new byte[8 * 1024];
        byte[] Batch(string tag, int count)
        {
            var builder = new RecordBatchBuilder();
            for (var i = 0; i < count; i++)
            {
                builder.Add(1_000 + i, System.Text.Encoding.UTF8.GetBytes($"{tag}-{i}"), value);
            }

            return builder.Build();
        }

        var corrupt = Batch("bad", 4);
        corrupt[^1] ^= 0xFF; // a flipped record byte: the CRC no longer matches
        var request = new ProduceRequest { Acks = -1, TimeoutMs = 1000 };
        foreach (var topic in new[] { "a", "b", "missing" })
        {
            var data = new ProduceRequest.TopicProduceData { Name = topic };
            for (var p = 5; p >= 0; p--)
            {
                data.PartitionData.Add(new ProduceRequest.PartitionProduceData { Index = p, Records = topic == "b" && p == 2 ? corrupt : Batch($"{topic}{p}", 4 + p) });
            }

            request.TopicData.Add(data);
        }

        // Twice: the second request's offsets follow the first's in every partition.
        for (var round = 0; round < 2; round++)
        {
            var response = await _broker.SendAsync(_handler, request, 9);

            Assert.Equal(["a", "b", "missing"], response.Responses.Select(t => t.Name));
            foreach (var (topic, expectedTopic) in response.Responses.Zip(request.TopicData))
            {
                Assert.Equal(expectedTopic.PartitionData.Select(p => p.Index), topic.PartitionResponses.Select(p => p.Index));
                foreach (var partition in topic.PartitionResponses)
                {
                    var expected = topic.Name == "missing" ? ErrorCode.UnknownTopicOrPartition
                        : topic.Name == "b" && partition.Index == 2 ? ErrorCode.CorruptMessage
                        : ErrorCode.None;
                    Assert.Equal((short)expected, partition.ErrorCode);
                    Assert.Equal(expected == ErrorCode.None ? round * (4 + partition.Index) : -1, partition.BaseOffset);
                }
            }
        }

        foreach (var topic in new[] { "a", "b" })
        {
            for (var p = 0; p < 6; p++)
            {
                var log = _broker.Core.FindLog(_broker.Topic(topic), p)!;
                var expectedRecords = topic == "b" && p == 2 ? 0 : 2 * (4 + p);
                Assert.Equal(expectedRecords, log.LogEndOffset);
                var keys = new List<string>();
                for (var rest = log.Read(0, 1 << 22).Records; !rest.IsEmpty;)
                {
                    var batch = RecordBatch.Read(rest);
                    foreach (var record in batch.Records)
                    {
                        keys.Add(System.Text.Encoding.UTF8.GetString(record.Key!.Value.Span));
                    }

                    rest = rest[batch.Bytes.Length..];
                }

                Assert.Equal(Enumerable.Range(0, expectedRecords).Select(i => $"{topic}{p}-{i % (4 + p)}"), keys);
            }
        }
    }

    [Fact]
    public async Task A_compressed_batch_that_finds_no_scratch_memory_is_answered_retriable_and_stored_on_retry()
    {
        _broker.CreateTopic("z", partitions: 1);
        var builder = new RecordBatchBuilder { Compression = CompressionType.Zstd };
        builder.Add(1_000, null, new byte[4096]);
        var request = new ProduceRequest { Acks = -1, TimeoutMs = 1000 };
        request.TopicData.Add(new ProduceRequest.TopicProduceData { Name = "z", PartitionData = { new ProduceRequest.PartitionProduceData { Index = 0, Records = builder.Build() } } });

        // Every byte of tributary.decompression.memory.bytes is taken by others.
        var scratch = _broker.Core.DecompressionScratch;
        Assert.True(scratch.TryReserve(scratch.LimitBytes));
        var refused = (await _broker.SendAsync(_handler, request, 9)).Responses[0].PartitionResponses[0];
        Assert.Equal((short)ErrorCode.RequestTimedOut, refused.ErrorCode);
        Assert.Contains("scratch memory", refused.ErrorMessage);
        Assert.Equal(0, _broker.Core.FindLog(_broker.Topic("z"), 0)!.LogEndOffset);

        scratch.Release(scratch.LimitBytes);
        var stored = (await _broker.SendAsync(_handler, request, 9)).Responses[0].PartitionResponses[0];
        Assert.Equal((short)ErrorCode.None, stored.ErrorCode);
        Assert.Equal(1, _broker.Core.FindLog(_broker.Topic("z"), 0)!.LogEndOffset);
        Assert.Equal(0, scratch.UsedBytes);
    }

    public void Dispose() => _broker.Dispose();
}
