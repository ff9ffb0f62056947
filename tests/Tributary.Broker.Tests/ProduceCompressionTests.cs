using System.Buffers;
using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;

namespace Tributary.Broker.Tests;

/// <summary>
/// A topic's compression.type is applied as Kafka applies it: batches are stored with the topic's codec
/// (recompressed, records unchanged), "producer" keeps what was sent, and zstd needs Produce v7.
/// </summary>
public sealed class ProduceCompressionTests : IDisposable
{
    private readonly TestBroker _broker = new();
    private readonly ProduceHandler _produce;

    public ProduceCompressionTests() => _produce = new ProduceHandler(_broker.Core, NullLogger<ProduceHandler>.Instance);

    public void Dispose() => _broker.Dispose();

    [Theory]
    [InlineData("gzip", CompressionType.None, CompressionType.Gzip)]
    [InlineData("gzip", CompressionType.Lz4, CompressionType.Gzip)]
    [InlineData("uncompressed", CompressionType.Zstd, CompressionType.None)]
    [InlineData("zstd", CompressionType.Snappy, CompressionType.Zstd)]
    [InlineData("producer", CompressionType.Lz4, CompressionType.Lz4)]
    public async Task Batches_are_stored_with_the_topics_codec_and_the_same_records(string topicCodec, CompressionType sent, CompressionType stored)
    {
        var topic = _broker.CreateTopic("codec", configs: new Dictionary<string, string> { ["compression.type"] = topicCodec });
        var builder = new RecordBatchBuilder { Compression = sent, ProducerId = 7, ProducerEpoch = 0, BaseSequence = 0 };
        for (var i = 0; i < 50; i++)
        {
            builder.Add(1_000 + i, [(byte)i], new byte[100], [("h", [(byte)i])]);
        }

        Assert.Equal((short)ErrorCode.None, await ProduceAsync("codec", builder.Build(), 9));
        Assert.Equal((short)ErrorCode.None, await ProduceAsync("codec", new RecordBatchBuilder { Compression = sent }.Add(2_000, null, [1]).Build(), 9));

        var read = _broker.Core.FindLog(topic, 0)!.Read(0, new Storage.LogReadOptions(1 << 20));
        var first = RecordBatch.Read(read.Records);
        Assert.Equal(stored, first.Header.Compression);
        Assert.True(first.IsCrcValid);
        Assert.Equal((0L, 49L, 7L, 1_049L), (first.Header.BaseOffset, first.Header.LastOffset, first.Header.ProducerId, first.Header.MaxTimestamp));
        var records = stored == CompressionType.None ? first.Records : first.DecompressRecords(new ArrayBufferWriter<byte>(), 1 << 20);
        var i2 = 0;
        foreach (var record in records)
        {
            Assert.Equal([(byte)i2], record.Key!.Value.ToArray());
            Assert.Equal(1_000 + i2, first.Header.BaseTimestamp + record.TimestampDelta);
            Assert.Equal(1, record.HeaderCount);
            foreach (var header in record.Headers)
            {
                Assert.Equal((byte)i2, header.Value!.Value.Span[0]);
            }

            i2++;
        }

        Assert.Equal(50, i2);
        var second = RecordBatch.Read(read.Records[first.Header.TotalSize..]);
        Assert.Equal((50L, stored), (second.Header.BaseOffset, second.Header.Compression));
    }

    [Fact]
    public async Task Zstd_needs_produce_v7()
    {
        var topic = _broker.CreateTopic("zstd-old");
        var batch = new RecordBatchBuilder { Compression = CompressionType.Zstd }.Add(1_000, null, [1]).Build();

        Assert.Equal((short)ErrorCode.UnsupportedCompressionType, await ProduceAsync("zstd-old", batch, 6));
        Assert.Equal(0, _broker.Core.FindLog(topic, 0)!.LogEndOffset);
        Assert.Equal((short)ErrorCode.None, await ProduceAsync("zstd-old", batch, 7));
    }

    private async Task<short> ProduceAsync(string topic, byte[] batch, short version)
    {
        var response = await _broker.SendAsync(_produce, new ProduceRequest
        {
            Acks = 1,
            TimeoutMs = 1000,
            TopicData = [new() { Name = topic, PartitionData = [new() { Index = 0, Records = batch }] }],
        }, version);
        return response.Responses.Single().PartitionResponses.Single().ErrorCode;
    }
}
