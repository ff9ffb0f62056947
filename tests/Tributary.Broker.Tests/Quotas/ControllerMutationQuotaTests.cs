using Tributary.Broker.Config;
using Tributary.Broker.Handlers;
using Tributary.Broker.Quotas;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.Quotas;

/// <summary>
/// controller_mutation_rate (KIP-599) on CreateTopics, CreatePartitions and DeleteTopics: past the burst a strict
/// version gets THROTTLING_QUOTA_EXCEEDED per topic with the time until the quota has room; an older one is served
/// and throttled.
/// </summary>
public sealed class ControllerMutationQuotaTests
{
    private readonly ManualTimeProvider _time = new();

    [Fact]
    public async Task Topics_past_the_burst_get_throttling_quota_exceeded_with_the_time_to_wait()
    {
        using var broker = Broker(rate: 1);

        // Rate 1/s over 11 windows of 1 s: a burst of 11 partitions. 12 go through (the bucket may go into debt once)...
        var first = await CreateAsync(broker, 7, ("a", 12));
        Assert.Equal(ErrorCode.None, (ErrorCode)first.Topics.Single().ErrorCode);
        Assert.Equal(1000, first.ThrottleTimeMs);

        // ...then nothing until the debt of 1 is repaid: 1 s at 1/s.
        var second = await CreateAsync(broker, 7, ("b", 1), ("c", 1));
        Assert.All(second.Topics, t => Assert.Equal((ErrorCode.ThrottlingQuotaExceeded, "The throttling quota has been exceeded."), ((ErrorCode)t.ErrorCode, t.ErrorMessage)));
        Assert.Equal(1000, second.ThrottleTimeMs);
        Assert.Null(broker.Core.Metadata.Find("b"));

        _time.Advance(TimeSpan.FromSeconds(1));
        var third = await CreateAsync(broker, 7, ("b", 1));
        Assert.Equal(ErrorCode.None, (ErrorCode)third.Topics.Single().ErrorCode);
        Assert.Equal(1000, third.ThrottleTimeMs);

        var partitions = await broker.SendAsync(new CreatePartitionsHandler(broker.Core), new CreatePartitionsRequest
        {
            Topics = [new CreatePartitionsRequest.CreatePartitionsTopic { Name = "b", Count = 2, Assignments = null }],
        }, 3);
        Assert.Equal(ErrorCode.ThrottlingQuotaExceeded, (ErrorCode)partitions.Results.Single().ErrorCode);
        Assert.Equal(1000, partitions.ThrottleTimeMs);

        var deleted = await broker.SendAsync(new DeleteTopicsHandler(broker.Core), new DeleteTopicsRequest { TopicNames = ["a"] }, 5);
        Assert.Equal(ErrorCode.ThrottlingQuotaExceeded, (ErrorCode)deleted.Responses.Single().ErrorCode);
        Assert.NotNull(broker.Core.Metadata.Find("a"));
    }

    [Fact]
    public async Task Versions_before_the_error_existed_are_served_and_throttled()
    {
        using var broker = Broker(rate: 1);
        var first = await CreateAsync(broker, 5, ("a", 15));
        Assert.Equal(ErrorCode.None, (ErrorCode)first.Topics.Single().ErrorCode);
        Assert.Equal(4000, first.ThrottleTimeMs);

        var second = await CreateAsync(broker, 5, ("b", 2));
        Assert.Equal(ErrorCode.None, (ErrorCode)second.Topics.Single().ErrorCode);
        Assert.Equal(6000, second.ThrottleTimeMs);

        var deleted = await broker.SendAsync(new DeleteTopicsHandler(broker.Core), new DeleteTopicsRequest { TopicNames = ["a"] }, 4);
        Assert.Equal(ErrorCode.None, (ErrorCode)deleted.Responses.Single().ErrorCode);
        Assert.Equal(21_000, deleted.ThrottleTimeMs);
    }

    [Fact]
    public async Task Validate_only_and_refused_topics_use_no_quota()
    {
        using var broker = Broker(rate: 1);
        var validated = await broker.SendAsync(new CreateTopicsHandler(broker.Core), new CreateTopicsRequest
        {
            Topics = [new CreateTopicsRequest.CreatableTopic { Name = "a", NumPartitions = 100, ReplicationFactor = 1 }],
            ValidateOnly = true,
        }, 7);
        Assert.Equal((ErrorCode.None, 0), ((ErrorCode)validated.Topics.Single().ErrorCode, validated.ThrottleTimeMs));

        var refused = await CreateAsync(broker, 7, ("bad name", 100));
        Assert.Equal((ErrorCode.InvalidTopicException, 0), ((ErrorCode)refused.Topics.Single().ErrorCode, refused.ThrottleTimeMs));
    }

    private TestBroker Broker(double rate)
    {
        var broker = new TestBroker(new BrokerConfig(), _time);
        broker.Core.Metadata.AlterClientQuotas([(new ClientQuotaEntity(QuotaEntityName.Default, null), ClientQuotaKeys.ControllerMutationRate, rate)]);
        return broker;
    }

    private static Task<CreateTopicsResponse> CreateAsync(TestBroker broker, short version, params (string Name, int Partitions)[] topics) =>
        broker.SendAsync(new CreateTopicsHandler(broker.Core), new CreateTopicsRequest
        {
            Topics = [.. topics.Select(t => new CreateTopicsRequest.CreatableTopic { Name = t.Name, NumPartitions = t.Partitions, ReplicationFactor = 1 })],
        }, version);
}
