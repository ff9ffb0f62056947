using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using static Tributary.Protocol.Messages.IncrementalAlterConfigsRequest;

namespace Tributary.Broker.Tests;

/// <summary>IncrementalAlterConfigs: each op changes one key and leaves the topic's other overrides alone.</summary>
public sealed class IncrementalAlterConfigsHandlerTests : IDisposable
{
    private const sbyte Topic = 2;
    private const sbyte Broker = 4;
    private const sbyte Set = 0;
    private const sbyte Delete = 1;
    private const sbyte Append = 2;
    private const sbyte Subtract = 3;

    private readonly TestBroker _broker = new();
    private readonly IncrementalAlterConfigsHandler _handler;

    public IncrementalAlterConfigsHandlerTests()
    {
        _handler = new IncrementalAlterConfigsHandler(_broker.Core);
        _broker.CreateTopic("orders", 1, new Dictionary<string, string> { ["retention.ms"] = "1000", ["segment.bytes"] = "4096" });
    }

    public void Dispose() => _broker.Dispose();

    private async Task<IncrementalAlterConfigsResponse.AlterConfigsResourceResponse> AlterAsync(bool validateOnly = false, sbyte type = Topic, string name = "orders", short version = 1, params (string Key, sbyte Op, string? Value)[] ops)
    {
        var request = new IncrementalAlterConfigsRequest
        {
            Resources = [new AlterConfigsResource { ResourceType = type, ResourceName = name, Configs = [.. ops.Select(o => new AlterableConfig { Name = o.Key, ConfigOperation = o.Op, Value = o.Value })] }],
            ValidateOnly = validateOnly,
        };
        return Assert.Single((await _broker.SendAsync(_handler, request, version)).Responses);
    }

    private async Task<DescribeConfigsResponse.DescribeConfigsResourceResult> DescribeAsync(string key)
    {
        var request = new DescribeConfigsRequest { Resources = [new() { ResourceType = Topic, ResourceName = "orders", ConfigurationKeys = [key] }] };
        var response = await _broker.SendAsync(new DescribeConfigsHandler(_broker.Core), request, 4);
        return Assert.Single(Assert.Single(response.Results).Configs);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task Set_overrides_one_key_and_keeps_the_others(short version)
    {
        var result = await AlterAsync(version: version, ops: [("max.message.bytes", Set, "5000")]);

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        Assert.Null(result.ErrorMessage);
        Assert.Equal(new Dictionary<string, string> { ["retention.ms"] = "1000", ["segment.bytes"] = "4096", ["max.message.bytes"] = "5000" }, _broker.Topic("orders").Configs);
        var described = await DescribeAsync("max.message.bytes");
        Assert.Equal(("5000", (sbyte)1), (described.Value, described.ConfigSource));
    }

    [Fact]
    public async Task Delete_restores_the_default()
    {
        var result = await AlterAsync(ops: [("retention.ms", Delete, null)]);

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        var described = await DescribeAsync("retention.ms");
        Assert.Equal(("604800000", (sbyte)5), (described.Value, described.ConfigSource));
        Assert.Equal(_broker.Core.Config.LogRetentionMs, _broker.Core.FindLog(_broker.Topic("orders"), 0)!.Config.RetentionMs);
        Assert.Equal("4096", _broker.Topic("orders").Configs["segment.bytes"]);
    }

    [Fact]
    public async Task Append_and_subtract_edit_a_list_starting_from_its_default()
    {
        await AlterAsync(ops: [("cleanup.policy", Append, "compact")]);
        Assert.Equal("delete,compact", _broker.Topic("orders").Configs["cleanup.policy"]);

        await AlterAsync(ops: [("cleanup.policy", Append, "delete")]);
        Assert.Equal("delete,compact", _broker.Topic("orders").Configs["cleanup.policy"]);

        await AlterAsync(ops: [("cleanup.policy", Subtract, "delete")]);
        Assert.Equal("compact", _broker.Topic("orders").Configs["cleanup.policy"]);
    }

    [Theory]
    [InlineData("retention.ms", Append, "5", ErrorCode.InvalidConfig)]
    [InlineData("retention.ms", Subtract, "1000", ErrorCode.InvalidConfig)]
    [InlineData("no.such.key", Set, "1", ErrorCode.InvalidConfig)]
    [InlineData("retention.ms", Set, "soon", ErrorCode.InvalidConfig)]
    [InlineData("cleanup.policy", Append, "forever", ErrorCode.InvalidConfig)]
    [InlineData("retention.ms", Set, null, ErrorCode.InvalidConfig)]
    [InlineData("retention.ms", 7, "5", ErrorCode.InvalidRequest)]
    public async Task A_bad_op_fails_the_resource_and_no_op_of_it_applies(string key, sbyte op, string? value, ErrorCode error)
    {
        var before = _broker.Topic("orders");

        var result = await AlterAsync(ops: [("max.message.bytes", Set, "5000"), (key, op, value)]);

        Assert.Equal((short)error, result.ErrorCode);
        Assert.NotNull(result.ErrorMessage);
        Assert.Equal(before, _broker.Topic("orders"));
    }

    [Fact]
    public async Task Validate_only_changes_nothing()
    {
        var before = _broker.Topic("orders");

        var result = await AlterAsync(validateOnly: true, ops: [("retention.ms", Delete, null)]);

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        Assert.Equal(before, _broker.Topic("orders"));
    }

    [Fact]
    public async Task Static_broker_configs_are_refused_as_kafka_refuses_them_and_unknown_topics_are_unknown()
    {
        var result = await AlterAsync(type: Broker, name: "", ops: [("num.partitions", Set, "3")]);
        Assert.Equal((short)ErrorCode.InvalidRequest, result.ErrorCode);
        Assert.Equal("Invalid config value for resource ConfigResource(type=BROKER, name=''): Cannot update these configs dynamically: Set(num.partitions)", result.ErrorMessage);
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, (await AlterAsync(name: "missing", ops: [("retention.ms", Set, "3")])).ErrorCode);
    }

    [Fact]
    public void Concurrent_changes_to_different_keys_all_take_effect()
    {
        string[] keys = ["retention.bytes", "segment.ms", "max.message.bytes", "flush.messages", "flush.ms", "min.insync.replicas"];
        for (var round = 0; round < 50; round++)
        {
            var value = round.ToString(System.Globalization.CultureInfo.InvariantCulture) + "1";

            Race.Run([.. keys.Select<string, Action>(key => () => AlterAsync(ops: [(key, Set, value)]).GetAwaiter().GetResult())]);

            var configs = _broker.Topic("orders").Configs;
            Assert.All(keys, key => Assert.Equal(value, configs[key]));
            Assert.Equal(8, configs.Count);
        }
    }

    [Fact]
    public void The_error_response_answers_every_resource()
    {
        var request = new IncrementalAlterConfigsRequest { Resources = [new() { ResourceType = Topic, ResourceName = "a" }, new() { ResourceType = Broker, ResourceName = "0" }] };

        var response = _broker.ErrorResponse(_handler, request, 1, ErrorCode.NotController);

        Assert.Equal([(Topic, "a", (short)ErrorCode.NotController), (Broker, "0", (short)ErrorCode.NotController)], response.Responses.Select(r => (r.ResourceType, r.ResourceName, r.ErrorCode)));
    }
}
