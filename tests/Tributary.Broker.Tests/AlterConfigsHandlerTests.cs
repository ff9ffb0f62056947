using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using static Tributary.Protocol.Messages.AlterConfigsRequest;

namespace Tributary.Broker.Tests;

/// <summary>AlterConfigs (legacy): the request's configs become the topic's whole override set.</summary>
public sealed class AlterConfigsHandlerTests : IDisposable
{
    private const sbyte Topic = 2;
    private const sbyte Broker = 4;

    private readonly TestBroker _broker = new();
    private readonly AlterConfigsHandler _handler;

    public AlterConfigsHandlerTests() => _handler = new AlterConfigsHandler(_broker.Core);

    public void Dispose() => _broker.Dispose();

    private async Task<AlterConfigsResponse.AlterConfigsResourceResponse> AlterAsync(sbyte type, string name, bool validateOnly = false, short version = 2, params (string Key, string? Value)[] configs)
    {
        var request = new AlterConfigsRequest
        {
            Resources = [new AlterConfigsResource { ResourceType = type, ResourceName = name, Configs = [.. configs.Select(c => new AlterableConfig { Name = c.Key, Value = c.Value })] }],
            ValidateOnly = validateOnly,
        };
        return Assert.Single((await _broker.SendAsync(_handler, request, version)).Responses);
    }

    private void CreateOrders() =>
        _broker.CreateTopic("orders", 2, new Dictionary<string, string> { ["retention.ms"] = "1000", ["segment.bytes"] = "4096" });

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task The_given_configs_replace_every_override_and_reach_the_logs(short version)
    {
        CreateOrders();

        var result = await AlterAsync(Topic, "orders", version: version, configs: [("segment.bytes", "8192"), ("max.message.bytes", "5000")]);

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        Assert.Null(result.ErrorMessage);
        var topic = _broker.Topic("orders");
        Assert.Equal(new Dictionary<string, string> { ["segment.bytes"] = "8192", ["max.message.bytes"] = "5000" }, topic.Configs);
        var log = _broker.Core.FindLog(topic, 1)!;
        Assert.Equal(8192, log.Config.SegmentBytes);
        Assert.Equal(_broker.Core.Config.LogRetentionMs, log.Config.RetentionMs);
    }

    [Theory]
    [InlineData("retention.ms", "-5")]
    [InlineData("no.such.key", "1")]
    [InlineData("segment.bytes", null)]
    public async Task An_invalid_config_is_invalid_config_and_nothing_changes(string key, string? value)
    {
        CreateOrders();
        var before = _broker.Topic("orders");

        var result = await AlterAsync(Topic, "orders", configs: [("max.message.bytes", "5000"), (key, value)]);

        Assert.Equal((short)ErrorCode.InvalidConfig, result.ErrorCode);
        Assert.Contains(key, result.ErrorMessage);
        Assert.Equal(before, _broker.Topic("orders"));
    }

    [Fact]
    public async Task Validate_only_changes_nothing()
    {
        CreateOrders();
        var before = _broker.Topic("orders");

        var result = await AlterAsync(Topic, "orders", validateOnly: true, configs: [("retention.ms", "5")]);

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        Assert.Equal(before, _broker.Topic("orders"));
    }

    [Fact]
    public async Task Static_broker_configs_cannot_be_updated_dynamically()
    {
        var result = await AlterAsync(Broker, "0", configs: [("num.partitions", "3")]);

        Assert.Equal((short)ErrorCode.InvalidRequest, result.ErrorCode);
        Assert.Contains("Cannot update these configs dynamically: Set(num.partitions)", result.ErrorMessage);
    }

    [Fact]
    public async Task An_unknown_topic_is_unknown_topic_or_partition()
    {
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, (await AlterAsync(Topic, "missing", configs: [("retention.ms", "5")])).ErrorCode);
    }

    [Fact]
    public async Task A_key_given_twice_is_an_invalid_request()
    {
        CreateOrders();

        var result = await AlterAsync(Topic, "orders", configs: [("retention.ms", "5"), ("retention.ms", "6")]);

        Assert.Equal((short)ErrorCode.InvalidRequest, result.ErrorCode);
        Assert.Equal("1000", _broker.Topic("orders").Configs["retention.ms"]);
    }

    [Fact]
    public void The_error_response_answers_every_resource()
    {
        var request = new AlterConfigsRequest { Resources = [new() { ResourceType = Topic, ResourceName = "a" }, new() { ResourceType = Broker, ResourceName = "0" }] };

        var response = _broker.ErrorResponse(_handler, request, 2, ErrorCode.NotController);

        Assert.Equal([(Topic, "a", (short)ErrorCode.NotController), (Broker, "0", (short)ErrorCode.NotController)], response.Responses.Select(r => (r.ResourceType, r.ResourceName, r.ErrorCode)));
    }
}
