using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Storage;

namespace Tributary.Broker.Tests;

/// <summary>DeleteRecords: the log start offset moves up and records below it can no longer be fetched.</summary>
public sealed class DeleteRecordsHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();
    private readonly DeleteRecordsHandler _handler;
    private readonly PartitionLog _log;

    public DeleteRecordsHandlerTests()
    {
        _handler = new DeleteRecordsHandler(_broker.Core);
        var topic = _broker.CreateTopic("orders", 2);
        _log = _broker.Core.FindLog(topic, 0)!;
        for (var batch = 0; batch < 2; batch++)
        {
            var builder = new RecordBatchBuilder();
            for (var i = 0; i < 5; i++)
            {
                builder.Add(1_000 + i, null, [(byte)i]);
            }

            _log.Append(builder.Build());
        }
    }

    public void Dispose() => _broker.Dispose();

    private async Task<DeleteRecordsResponse.DeleteRecordsPartitionResult> DeleteAsync(long offset, string topic = "orders", int partition = 0, short version = 2)
    {
        var request = new DeleteRecordsRequest { Topics = [new() { Name = topic, Partitions = [new() { PartitionIndex = partition, Offset = offset }] }] };
        var response = await _broker.SendAsync(_handler, request, version);
        return Assert.Single(Assert.Single(response.Topics).Partitions);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Records_below_the_offset_are_deleted(short version)
    {
        var result = await DeleteAsync(4, version: version);

        Assert.Equal(((short)ErrorCode.None, 4L), (result.ErrorCode, result.LowWatermark));
        Assert.Equal(4, _log.LogStartOffset);
        Assert.Equal(LogReadStatus.OffsetOutOfRange, _log.Read(3, new LogReadOptions(1 << 20)).Status);
        Assert.Equal(LogReadStatus.Ok, _log.Read(4, new LogReadOptions(1 << 20)).Status);
    }

    [Fact]
    public async Task Minus_one_deletes_up_to_the_high_watermark()
    {
        var result = await DeleteAsync(-1);

        Assert.Equal(((short)ErrorCode.None, 10L), (result.ErrorCode, result.LowWatermark));
        Assert.Equal(10, _log.LogStartOffset);
    }

    [Fact]
    public async Task An_offset_below_the_low_watermark_changes_nothing()
    {
        await DeleteAsync(6);

        var result = await DeleteAsync(2);

        Assert.Equal(((short)ErrorCode.None, 6L), (result.ErrorCode, result.LowWatermark));
        Assert.Equal(6, _log.LogStartOffset);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(-2)]
    public async Task Offsets_above_the_high_watermark_or_negative_are_out_of_range(long offset)
    {
        var result = await DeleteAsync(offset);

        Assert.Equal((short)ErrorCode.OffsetOutOfRange, result.ErrorCode);
        Assert.Equal(0, _log.LogStartOffset);
    }

    [Theory]
    [InlineData("compact", (short)ErrorCode.PolicyViolation, 0L)]
    [InlineData("compact,delete", (short)ErrorCode.None, 3L)]
    [InlineData("delete", (short)ErrorCode.None, 3L)]
    public async Task A_compact_only_topic_refuses_with_POLICY_VIOLATION_as_kafka_does(string policy, short error, long logStart)
    {
        var topic = _broker.Core.CreateTopic("keyed", 1, new Dictionary<string, string> { ["cleanup.policy"] = policy }).Topic;
        var log = _broker.Core.FindLog(topic, 0)!;
        var builder = new RecordBatchBuilder();
        for (var i = 0; i < 5; i++)
        {
            builder.Add(1_000 + i, [(byte)i], [(byte)i]);
        }

        log.Append(builder.Build());

        var result = await DeleteAsync(3, "keyed");

        Assert.Equal(error, result.ErrorCode);
        Assert.Equal(logStart, log.LogStartOffset);
    }

    [Theory]
    [InlineData("missing", 0)]
    [InlineData("orders", 2)]
    [InlineData("orders", -1)]
    public async Task Unknown_topics_and_partitions_are_unknown_topic_or_partition(string topic, int partition)
    {
        var result = await DeleteAsync(1, topic, partition);

        Assert.Equal(((short)ErrorCode.UnknownTopicOrPartition, -1L), (result.ErrorCode, result.LowWatermark));
    }

    [Fact]
    public void The_error_response_answers_every_partition()
    {
        var request = new DeleteRecordsRequest
        {
            Topics = [new() { Name = "a", Partitions = [new() { PartitionIndex = 0 }, new() { PartitionIndex = 1 }] }, new() { Name = "b", Partitions = [new() { PartitionIndex = 0 }] }],
        };

        var response = _broker.ErrorResponse(_handler, request, 2, ErrorCode.NotController);

        Assert.Equal(
            [("a", 0, (short)ErrorCode.NotController), ("a", 1, (short)ErrorCode.NotController), ("b", 0, (short)ErrorCode.NotController)],
            response.Topics.SelectMany(t => t.Partitions.Select(p => (t.Name, p.PartitionIndex, p.ErrorCode))));
    }
}
