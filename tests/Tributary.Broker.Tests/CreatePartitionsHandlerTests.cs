using Tributary.Broker.Config;
using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using static Tributary.Protocol.Messages.CreatePartitionsRequest;

namespace Tributary.Broker.Tests;

/// <summary>CreatePartitions: topics grow and never shrink; the new partitions are writable at once.</summary>
public sealed class CreatePartitionsHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();
    private readonly CreatePartitionsHandler _handler;

    public CreatePartitionsHandlerTests() => _handler = new CreatePartitionsHandler(_broker.Core);

    public void Dispose() => _broker.Dispose();

    private async Task<CreatePartitionsResponse.CreatePartitionsTopicResult> GrowAsync(string name, int count, List<CreatePartitionsAssignment>? assignments = null, bool validateOnly = false, short version = 3)
    {
        var request = new CreatePartitionsRequest { Topics = [new CreatePartitionsTopic { Name = name, Count = count, Assignments = assignments }], ValidateOnly = validateOnly };
        return Assert.Single((await _broker.SendAsync(_handler, request, version)).Results);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Growing_adds_writable_partitions_and_keeps_the_configs(short version)
    {
        var configs = new Dictionary<string, string> { ["retention.ms"] = "1000" };
        _broker.CreateTopic("orders", 1, configs);

        var result = await GrowAsync("orders", 3, version: version);

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        Assert.Null(result.ErrorMessage);
        var topic = _broker.Topic("orders");
        Assert.Equal(3, topic.PartitionCount);
        Assert.Equal(configs, topic.Configs);
        Assert.Equal(1000, _broker.Core.FindLog(topic, 2)!.Config.RetentionMs);
    }

    [Theory]
    [InlineData(3, "already has 3")]
    [InlineData(2, "cannot be removed")]
    [InlineData(BrokerConfig.PartitionsPerTopicMax + 1, "limit")]
    public async Task A_count_that_does_not_grow_the_topic_or_exceeds_the_limit_is_invalid_partitions(int count, string message)
    {
        _broker.CreateTopic("orders", 3);

        var result = await GrowAsync("orders", count);

        Assert.Equal((short)ErrorCode.InvalidPartitions, result.ErrorCode);
        Assert.Contains(message, result.ErrorMessage);
        Assert.Equal(3, _broker.Topic("orders").PartitionCount);
    }

    [Fact]
    public async Task An_unknown_topic_is_unknown_topic_or_partition()
    {
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, (await GrowAsync("missing", 2)).ErrorCode);
        Assert.Empty(_broker.Core.Metadata.Topics);
    }

    [Fact]
    public async Task Assignments_of_each_new_partition_to_this_broker_are_accepted()
    {
        _broker.CreateTopic("orders", 1);

        var result = await GrowAsync("orders", 3, [new() { BrokerIds = [0] }, new() { BrokerIds = [0] }]);

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        Assert.Equal(3, _broker.Topic("orders").PartitionCount);
    }

    [Theory]
    [InlineData(new[] { 1 }, 2)]
    [InlineData(new[] { 0, 1 }, 2)]
    [InlineData(new[] { 0 }, 1)]
    public async Task Assignments_to_other_brokers_or_of_the_wrong_number_are_invalid(int[] brokers, int assignmentCount)
    {
        _broker.CreateTopic("orders", 1);
        var assignments = Enumerable.Range(0, assignmentCount).Select(_ => new CreatePartitionsAssignment { BrokerIds = [.. brokers] }).ToList();

        var result = await GrowAsync("orders", 3, assignments);

        Assert.Equal((short)ErrorCode.InvalidReplicaAssignment, result.ErrorCode);
        Assert.Equal(1, _broker.Topic("orders").PartitionCount);
    }

    [Fact]
    public async Task Validate_only_changes_nothing()
    {
        _broker.CreateTopic("orders", 1);

        var result = await GrowAsync("orders", 4, validateOnly: true);

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        Assert.Equal(1, _broker.Topic("orders").PartitionCount);
        Assert.False(_broker.Core.Logs.TryGet("orders", 1, out _));
    }

    [Fact]
    public async Task A_topic_named_twice_is_an_invalid_request_and_not_grown()
    {
        _broker.CreateTopic("orders", 1);
        var request = new CreatePartitionsRequest { Topics = [new() { Name = "orders", Count = 2 }, new() { Name = "orders", Count = 3 }] };

        var response = await _broker.SendAsync(_handler, request, 3);

        Assert.Equal((short)ErrorCode.InvalidRequest, Assert.Single(response.Results).ErrorCode);
        Assert.Equal(1, _broker.Topic("orders").PartitionCount);
    }

    [Fact]
    public void Concurrent_grows_end_at_the_largest_count_with_every_partition_open()
    {
        for (var round = 0; round < 50; round++)
        {
            var name = "t" + round;
            _broker.CreateTopic(name, 1);

            Race.Run([.. Enumerable.Range(2, 8).Select<int, Action>(count => () => GrowAsync(name, count).GetAwaiter().GetResult())]);

            var topic = _broker.Topic(name);
            Assert.Equal(9, topic.PartitionCount);
            Assert.All(Enumerable.Range(0, 9), p => Assert.NotNull(_broker.Core.FindLog(topic, p)));
        }
    }

    [Fact]
    public void The_error_response_answers_every_topic()
    {
        var request = new CreatePartitionsRequest { Topics = [new() { Name = "a", Count = 2 }, new() { Name = "b", Count = 2 }] };

        var response = _broker.ErrorResponse(_handler, request, 3, ErrorCode.NotController);

        Assert.Equal([("a", (short)ErrorCode.NotController), ("b", (short)ErrorCode.NotController)], response.Results.Select(r => (r.Name, r.ErrorCode)));
    }
}
