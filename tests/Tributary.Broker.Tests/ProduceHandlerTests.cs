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
                for (var rest = log.Read(0, new Storage.LogReadOptions(1 << 22)).Records; !rest.IsEmpty;)
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

    [Theory]
    [InlineData("compact")]
    [InlineData("compact,delete")]
    public async Task A_compacted_topic_refuses_a_batch_with_keyless_records_naming_each_and_appends_none(string policy)
    {
        _broker.CreateTopic("facts", configs: new Dictionary<string, string> { ["cleanup.policy"] = policy });
        static ProduceRequest Request(params string?[] keys)
        {
            var builder = new RecordBatchBuilder();
            foreach (var key in keys)
            {
                builder.Add(1_000, key is null ? null : System.Text.Encoding.UTF8.GetBytes(key), [1]);
            }

            return new ProduceRequest
            {
                Acks = -1,
                TimeoutMs = 1000,
                TopicData = [new ProduceRequest.TopicProduceData { Name = "facts", PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = builder.Build() }] }],
            };
        }

        var refused = (await _broker.SendAsync(_handler, Request(null, "k1", null, null, null), 9)).Responses.Single().PartitionResponses.Single();

        const string Reason = "Compacted topic cannot accept message without key in topic partition facts-0";
        Assert.Equal((short)ErrorCode.InvalidRecord, refused.ErrorCode);
        Assert.Equal(-1, refused.BaseOffset);
        Assert.Equal([(0, Reason), (2, Reason), (3, Reason), (4, Reason)], refused.RecordErrors.Select(e => (e.BatchIndex, e.BatchIndexErrorMessage)));
        Assert.Equal(
            "One or more records have been rejected due to 4 record errors in total, and only showing the first three errors at most: "
            + $"[RecordError(batchIndex=0, message='{Reason}'), RecordError(batchIndex=2, message='{Reason}'), RecordError(batchIndex=3, message='{Reason}')]",
            refused.ErrorMessage);
        Assert.Equal(0, _broker.Core.FindLog(_broker.Topic("facts"), 0)!.LogEndOffset);

        // v7 has no record errors or message: the code alone.
        var old = (await _broker.SendAsync(_handler, Request("k0", null), 7)).Responses.Single().PartitionResponses.Single();
        Assert.Equal((short)ErrorCode.InvalidRecord, old.ErrorCode);

        var keyed = (await _broker.SendAsync(_handler, Request("k0", "k1"), 9)).Responses.Single().PartitionResponses.Single();
        Assert.Equal(((short)ErrorCode.None, 0L), (keyed.ErrorCode, keyed.BaseOffset));
    }

    [Fact]
    public async Task A_topic_that_is_not_compacted_takes_keyless_records()
    {
        _broker.CreateTopic("events");
        var batch = new RecordBatchBuilder().Add(1_000, null, [1]).Build();
        var response = await _broker.SendAsync(_handler, new ProduceRequest
        {
            Acks = -1,
            TimeoutMs = 1000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = "events", PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = batch }] }],
        }, 9);

        Assert.Equal((short)ErrorCode.None, response.Responses.Single().PartitionResponses.Single().ErrorCode);
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
