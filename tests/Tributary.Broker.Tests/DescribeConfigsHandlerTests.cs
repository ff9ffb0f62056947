using Tributary.Broker.Config;
using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using static Tributary.Protocol.Messages.DescribeConfigsRequest;

namespace Tributary.Broker.Tests;

/// <summary>DescribeConfigs: effective values with the source a user reads to learn where each one comes from.</summary>
public sealed class DescribeConfigsHandlerTests
{
    private const sbyte Topic = 2;
    private const sbyte Broker = 4;
    private const sbyte DynamicTopicConfig = 1;
    private const sbyte StaticBrokerConfig = 4;
    private const sbyte DefaultConfig = 5;

    private static async Task<DescribeConfigsResponse.DescribeConfigsResult> DescribeAsync(TestBroker broker, sbyte type, string name, List<string>? keys = null, bool synonyms = true, short version = 4)
    {
        var request = new DescribeConfigsRequest { Resources = [new DescribeConfigsResource { ResourceType = type, ResourceName = name, ConfigurationKeys = keys }], IncludeSynonyms = synonyms };
        return Assert.Single((await broker.SendAsync(new DescribeConfigsHandler(broker.Core), request, version)).Results);
    }

    [Fact]
    public async Task A_topic_override_is_a_dynamic_topic_config_and_the_rest_are_defaults()
    {
        using var broker = new TestBroker();
        broker.CreateTopic("orders", 1, new Dictionary<string, string> { ["retention.ms"] = "1000" });

        var result = await DescribeAsync(broker, Topic, "orders");

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        Assert.Null(result.ErrorMessage);
        var configs = result.Configs.ToDictionary(c => c.Name);
        Assert.Equal(TopicConfigs.Definitions.Keys.Order(), configs.Keys.Order());
        var retention = configs["retention.ms"];
        Assert.Equal(("1000", DynamicTopicConfig, false, false), (retention.Value, retention.ConfigSource, retention.ReadOnly, retention.IsSensitive));
        Assert.Equal([("retention.ms", "1000", DynamicTopicConfig), ("retention.ms", "604800000", DefaultConfig)], retention.Synonyms.Select(s => (s.Name, s.Value, s.Source)));
        Assert.Equal(("delete", DefaultConfig), (configs["cleanup.policy"].Value, configs["cleanup.policy"].ConfigSource));
    }

    [Fact]
    public async Task Config_types_are_kafkas()
    {
        using var broker = new TestBroker();
        broker.CreateTopic("orders");

        var configs = (await DescribeAsync(broker, Topic, "orders")).Configs.ToDictionary(c => c.Name, c => c.ConfigType);

        Assert.Equal(5, configs["retention.ms"]);
        Assert.Equal(3, configs["segment.bytes"]);
        Assert.Equal(7, configs["cleanup.policy"]);
        Assert.Equal(2, configs["message.timestamp.type"]);
    }

    [Fact]
    public async Task A_topic_inherits_an_explicit_broker_value_in_its_own_units()
    {
        using var broker = new TestBroker("log.retention.hours=1", "log.message.timestamp.type=LogAppendTime");
        broker.CreateTopic("orders");

        var configs = (await DescribeAsync(broker, Topic, "orders")).Configs.ToDictionary(c => c.Name);

        var retention = configs["retention.ms"];
        Assert.Equal(("3600000", StaticBrokerConfig), (retention.Value, retention.ConfigSource));
        Assert.Equal([("log.retention.hours", "1", StaticBrokerConfig), ("retention.ms", "604800000", DefaultConfig)], retention.Synonyms.Select(s => (s.Name, s.Value, s.Source)));
        Assert.Equal(("LogAppendTime", StaticBrokerConfig), (configs["message.timestamp.type"].Value, configs["message.timestamp.type"].ConfigSource));
    }

    [Fact]
    public async Task Configuration_keys_select_entries_and_unknown_keys_are_left_out()
    {
        using var broker = new TestBroker();
        broker.CreateTopic("orders");

        var result = await DescribeAsync(broker, Topic, "orders", ["retention.ms", "no.such.key"], synonyms: false);

        var config = Assert.Single(result.Configs);
        Assert.Equal("retention.ms", config.Name);
        Assert.Empty(config.Synonyms);
    }

    [Theory]
    [InlineData("")]
    [InlineData("3")]
    public async Task The_broker_is_described_by_empty_name_or_its_id_and_is_read_only(string name)
    {
        using var broker = new TestBroker("node.id=3", "num.partitions=6");

        var result = await DescribeAsync(broker, Broker, name);

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        var configs = result.Configs.ToDictionary(c => c.Name);
        Assert.Equal(BrokerConfig.Definitions.Count, configs.Count);
        Assert.All(configs.Values, c => Assert.True(c.ReadOnly));
        Assert.Equal(("6", StaticBrokerConfig), (configs["num.partitions"].Value, configs["num.partitions"].ConfigSource));
        Assert.Equal(("true", DefaultConfig), (configs["delete.topic.enable"].Value, configs["delete.topic.enable"].ConfigSource));
        Assert.Equal([("num.partitions", "6", StaticBrokerConfig)], configs["num.partitions"].Synonyms.Select(s => (s.Name, s.Value, s.Source)));
        Assert.Equal(1, configs["auto.create.topics.enable"].ConfigType);
    }

    [Theory]
    [InlineData(Broker, "7", ErrorCode.InvalidRequest)]
    [InlineData(Broker, "zero", ErrorCode.InvalidRequest)]
    [InlineData(Topic, "missing", ErrorCode.UnknownTopicOrPartition)]
    [InlineData(Topic, "bad name", ErrorCode.InvalidTopicException)]
    [InlineData(8, "", ErrorCode.InvalidRequest)]
    public async Task Resources_that_cannot_be_described_get_an_error_and_no_configs(sbyte type, string name, ErrorCode error)
    {
        using var broker = new TestBroker();

        var result = await DescribeAsync(broker, type, name);

        Assert.Equal((short)error, result.ErrorCode);
        Assert.NotNull(result.ErrorMessage);
        Assert.Empty(result.Configs);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task Every_supported_version_answers_topic_and_broker_resources(short version)
    {
        using var broker = new TestBroker();
        broker.CreateTopic("orders", 1, new Dictionary<string, string> { ["segment.bytes"] = "4096" });
        var request = new DescribeConfigsRequest
        {
            Resources = [new() { ResourceType = Topic, ResourceName = "orders", ConfigurationKeys = null }, new() { ResourceType = Broker, ResourceName = "0", ConfigurationKeys = null }],
            IncludeSynonyms = true,
        };

        var response = await broker.SendAsync(new DescribeConfigsHandler(broker.Core), request, version);

        Assert.All(response.Results, r => Assert.Equal((short)ErrorCode.None, r.ErrorCode));
        var segment = response.Results[0].Configs.Single(c => c.Name == "segment.bytes");
        Assert.Equal(("4096", DynamicTopicConfig), (segment.Value, segment.ConfigSource));
        Assert.Equal(version >= 3 ? (sbyte)3 : (sbyte)0, segment.ConfigType);
    }

    [Fact]
    public void The_error_response_answers_every_resource()
    {
        using var broker = new TestBroker();
        var request = new DescribeConfigsRequest { Resources = [new() { ResourceType = Topic, ResourceName = "a" }, new() { ResourceType = Broker, ResourceName = "" }] };

        var response = broker.ErrorResponse(new DescribeConfigsHandler(broker.Core), request, 4, ErrorCode.NotController);

        Assert.Equal([(Topic, "a", (short)ErrorCode.NotController), (Broker, "", (short)ErrorCode.NotController)], response.Results.Select(r => (r.ResourceType, r.ResourceName, r.ErrorCode)));
    }
}
