using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker.Config;
using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;

namespace Tributary.Broker.Tests;

/// <summary>
/// message.timestamp.before.max.ms and .after.max.ms: a CreateTime batch with a record stamped too far from the broker's
/// clock is refused whole with INVALID_TIMESTAMP and one record error per such record, as Kafka's LogValidator does.
/// </summary>
public sealed class ProduceTimestampTests : IDisposable
{
    private readonly ManualTimeProvider _time = new();
    private readonly TestBroker _broker;
    private readonly ProduceHandler _handler;

    public ProduceTimestampTests()
    {
        _broker = new TestBroker(BrokerConfig.Parse([]).Config!, _time);
        _handler = new ProduceHandler(_broker.Core, NullLogger<ProduceHandler>.Instance);
    }

    public void Dispose() => _broker.Dispose();

    private async Task<ProduceResponse.PartitionProduceResponse> ProduceAsync(string topic, CompressionType compression, params long[] timestamps)
    {
        var builder = new RecordBatchBuilder { Compression = compression };
        foreach (var timestamp in timestamps)
        {
            builder.Add(timestamp, null, [1]);
        }

        var request = new ProduceRequest
        {
            Acks = -1,
            TimeoutMs = 1000,
            TopicData = [new() { Name = topic, PartitionData = [new() { Index = 0, Records = builder.Build() }] }],
        };
        return (await _broker.SendAsync(_handler, request, 9)).Responses.Single().PartitionResponses.Single();
    }

    [Theory]
    [InlineData(CompressionType.None)]
    [InlineData(CompressionType.Lz4)]
    public async Task Records_outside_the_window_refuse_the_batch_with_one_error_each(CompressionType compression)
    {
        _broker.CreateTopic("events", 1, new Dictionary<string, string> { ["message.timestamp.before.max.ms"] = "60000", ["message.timestamp.after.max.ms"] = "1000" });
        var now = _time.NowMs;

        var refused = await ProduceAsync("events", compression, now, now - 120_000, now + 500, now + 5_000);

        Assert.Equal(((short)ErrorCode.InvalidTimestamp, -1L), (refused.ErrorCode, refused.BaseOffset));
        var window = $"The timestamp should be within [{now - 60_000}, {now + 1_000}]";
        Assert.Equal(
            [(1, $"Timestamp {now - 120_000} of message with offset 1 is out of range. {window}"), (3, $"Timestamp {now + 5_000} of message with offset 3 is out of range. {window}")],
            refused.RecordErrors.Select(e => (e.BatchIndex, e.BatchIndexErrorMessage)));
        Assert.Equal(0, _broker.Core.FindLog(_broker.Topic("events"), 0)!.LogEndOffset);

        var accepted = await ProduceAsync("events", compression, now - 59_000, now + 1_000);
        Assert.Equal(((short)ErrorCode.None, 0L), (accepted.ErrorCode, accepted.BaseOffset));
    }

    [Fact]
    public async Task By_default_an_hour_ahead_is_the_limit_and_the_past_is_unbounded()
    {
        _broker.CreateTopic("events");
        var now = _time.NowMs;

        Assert.Equal((short)ErrorCode.None, (await ProduceAsync("events", CompressionType.None, 1_000, now + 3_600_000)).ErrorCode);
        Assert.Equal((short)ErrorCode.InvalidTimestamp, (await ProduceAsync("events", CompressionType.None, now + 3_600_001)).ErrorCode);
    }

    [Fact]
    public async Task A_log_append_time_topic_takes_any_timestamp()
    {
        _broker.CreateTopic("events", 1, new Dictionary<string, string> { ["message.timestamp.type"] = "LogAppendTime", ["message.timestamp.after.max.ms"] = "0" });

        Assert.Equal((short)ErrorCode.None, (await ProduceAsync("events", CompressionType.None, _time.NowMs + 10_000_000)).ErrorCode);
    }
}
