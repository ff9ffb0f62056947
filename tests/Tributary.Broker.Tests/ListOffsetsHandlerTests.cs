using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;

namespace Tributary.Broker.Tests;

/// <summary>
/// ListOffsets by timestamp answers as Kafka does: the first record at or after the timestamp, with that record's
/// offset and timestamp (not its batch's base offset and the requested time), also for batches whose producer left
/// the max timestamp at -1 (sarama), which the produce path corrects as Kafka's LogValidator does.
/// </summary>
public sealed class ListOffsetsHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();
    private readonly ProduceHandler _produce;
    private readonly ListOffsetsHandler _listOffsets;

    public ListOffsetsHandlerTests()
    {
        _produce = new ProduceHandler(_broker.Core, NullLogger<ProduceHandler>.Instance);
        _listOffsets = new ListOffsetsHandler(_broker.Core);
    }

    public void Dispose() => _broker.Dispose();

    [Theory]
    [InlineData(CompressionType.None)]
    [InlineData(CompressionType.Gzip)]
    public async Task A_timestamp_inside_a_batch_finds_the_first_record_at_or_after_it(CompressionType compression)
    {
        _broker.CreateTopic("timed");
        await ProduceAsync("timed", Batch(compression, 1_000, 2_000, 3_000)); // offsets 0-2
        await ProduceAsync("timed", Batch(compression, 4_000, 5_000)); // offsets 3-4

        Assert.Equal((1L, 2_000L), await LookUpAsync("timed", 1_500));
        Assert.Equal((0L, 1_000L), await LookUpAsync("timed", 1_000));
        Assert.Equal((3L, 4_000L), await LookUpAsync("timed", 3_001));
        Assert.Equal((4L, 5_000L), await LookUpAsync("timed", 5_000));
        Assert.Equal((-1L, -1L), await LookUpAsync("timed", 5_001));
    }

    [Fact]
    public async Task A_batch_whose_producer_left_the_max_timestamp_at_minus_one_is_found()
    {
        _broker.CreateTopic("sarama");
        var batch = Batch(CompressionType.None, 1_000, 2_000, 3_000);
        RecordBatchHeader.WriteMaxTimestamp(batch, -1);

        await ProduceAsync("sarama", batch);

        Assert.Equal((2L, 3_000L), await LookUpAsync("sarama", 2_500));
        var stored = _broker.Core.FindLog(_broker.Topic("sarama"), 0)!.Read(0, new Storage.LogReadOptions(1 << 20));
        var header = RecordBatchHeader.Read(stored.Records.Span);
        Assert.Equal(3_000, header.MaxTimestamp);
        Assert.True(RecordBatchHeader.IsCrcValid(stored.Records.Span[..header.TotalSize]));
    }

    private async Task ProduceAsync(string topic, byte[] batch)
    {
        var response = await _broker.SendAsync(_produce, new ProduceRequest
        {
            Acks = 1,
            TimeoutMs = 1000,
            TopicData = [new() { Name = topic, PartitionData = [new() { Index = 0, Records = batch }] }],
        }, 9);
        Assert.Equal((short)ErrorCode.None, response.Responses.Single().PartitionResponses.Single().ErrorCode);
    }

    private async Task<(long Offset, long Timestamp)> LookUpAsync(string topic, long timestamp)
    {
        var response = await _broker.SendAsync(_listOffsets, new ListOffsetsRequest
        {
            ReplicaId = -1,
            Topics = [new() { Name = topic, Partitions = [new() { PartitionIndex = 0, Timestamp = timestamp }] }],
        }, 7);
        var partition = response.Topics.Single().Partitions.Single();
        return (partition.Offset, partition.Timestamp);
    }

    private static byte[] Batch(CompressionType compression, params long[] timestamps)
    {
        var builder = new RecordBatchBuilder { Compression = compression };
        foreach (var t in timestamps)
        {
            builder.Add(t, null, BitConverter.GetBytes(t));
        }

        return builder.Build();
    }
}
