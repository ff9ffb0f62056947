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
        Assert.Equal([("retention.ms", "1000", DynamicTopicConfig)], retention.Synonyms.Select(s => (s.Name, s.Value, s.Source)));
        Assert.Equal(("delete", DefaultConfig), (configs["cleanup.policy"].Value, configs["cleanup.policy"].ConfigSource));
    }

    [Fact]
    public async Task Synonyms_are_the_broker_keys_a_topic_key_inherits_from_never_a_default_copy_of_the_topic_key()
    {
        using var broker = new TestBroker("log.segment.bytes=2048");
        broker.CreateTopic("orders", 1, new Dictionary<string, string> { ["segment.bytes"] = "4096" });

        var configs = (await DescribeAsync(broker, Topic, "orders")).Configs.ToDictionary(c => c.Name);

        Assert.Equal(
            [("segment.bytes", "4096", DynamicTopicConfig), ("log.segment.bytes", "2048", StaticBrokerConfig), ("log.segment.bytes", "1073741824", DefaultConfig)],
            configs["segment.bytes"].Synonyms.Select(s => (s.Name, s.Value, s.Source)));
        var maxMessage = configs["max.message.bytes"];
        Assert.Equal(("1048588", DefaultConfig), (maxMessage.Value, maxMessage.ConfigSource));
        Assert.Equal([("message.max.bytes", "1048588", DefaultConfig)], maxMessage.Synonyms.Select(s => (s.Name, s.Value, s.Source)));
        Assert.Empty(configs["message.downconversion.enable"].Synonyms);
        Assert.All(configs.Values, c => Assert.DoesNotContain(
            c.Synonyms, s => s.Source == DefaultConfig && s.Name == c.Name && TopicConfigs.Definitions[c.Name].BrokerKey != c.Name));
    }

    [Fact]
    public async Task Topic_configs_are_kafkas_list_by_name_with_kafkas_defaults()
    {
        using var broker = new TestBroker();
        broker.CreateTopic("orders");

        var configs = (await DescribeAsync(broker, Topic, "orders")).Configs;

        Assert.Equal(configs.Select(c => c.Name).Order(StringComparer.Ordinal), configs.Select(c => c.Name));
        var values = configs.ToDictionary(c => c.Name, c => c.Value);
        Assert.Equal("10485760", values["segment.index.bytes"]);
        Assert.Equal("0", values["segment.jitter.ms"]);
        Assert.Equal("false", values["preallocate"]);
        Assert.Equal("9223372036854775807", values["message.timestamp.before.max.ms"]);
        Assert.Equal("3600000", values["message.timestamp.after.max.ms"]);
        Assert.Equal("false", values["unclean.leader.election.enable"]);
        Assert.Equal("4096", values["index.interval.bytes"]);
        Assert.Equal("60000", values["file.delete.delay.ms"]);
        Assert.Equal("", values["leader.replication.throttled.replicas"]);
        Assert.Equal("-2", values["local.retention.ms"]);
        Assert.Equal("false", values["remote.storage.enable"]);
        Assert.DoesNotContain("message.timestamp.difference.max.ms", values.Keys);
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

        // Kafka lists the synonyms of retention.ms from log.retention.ms on: one set only in hours gives the value and
        // no synonym (ConfigHelper.configSynonyms drops those before the key's own name).
        var retention = configs["retention.ms"];
        Assert.Equal(("3600000", DefaultConfig), (retention.Value, retention.ConfigSource));
        Assert.Empty(retention.Synonyms);
        var timestampType = configs["message.timestamp.type"];
        Assert.Equal(("LogAppendTime", StaticBrokerConfig), (timestampType.Value, timestampType.ConfigSource));
        Assert.Equal(
            [("log.message.timestamp.type", "LogAppendTime", StaticBrokerConfig), ("log.message.timestamp.type", "CreateTime", DefaultConfig)],
            timestampType.Synonyms.Select(s => (s.Name, s.Value, s.Source)));
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

    [Fact]
    public async Task A_listeners_jaas_config_is_described_as_set_sensitive_and_without_its_value()
    {
        using var broker = new TestBroker("listener.name.sasl_plaintext.plain.sasl.jaas.config=" + Tributary.Broker.Security.PlainJaasConfig.LoginModule + " required user_alice=\"s3cr3t\";");

        var result = await DescribeAsync(broker, Broker, "0");

        var jaas = Assert.Single(result.Configs, c => c.Name.EndsWith("jaas.config", StringComparison.Ordinal));
        Assert.Equal("listener.name.sasl_plaintext.plain.sasl.jaas.config", jaas.Name);
        Assert.True(jaas.IsSensitive);
        Assert.Null(jaas.Value);
        Assert.DoesNotContain(result.Configs, c => c.Name.Contains("<listener>", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TLS_passwords_and_keys_are_described_sensitive_without_their_values_and_keystores_as_dynamic()
    {
        using var broker = new TestBroker("ssl.keystore.password=hunter2", "listener.name.ssl.ssl.keystore.key=-----BEGIN PRIVATE KEY-----", "ssl.keystore.location=/etc/broker.p12");

        var result = await DescribeAsync(broker, Broker, "0");

        foreach (var name in new[] { "ssl.keystore.password", "listener.name.ssl.ssl.keystore.key" })
        {
            var secret = Assert.Single(result.Configs, c => c.Name == name);
            Assert.True(secret.IsSensitive);
            Assert.Null(secret.Value);
        }

        var location = Assert.Single(result.Configs, c => c.Name == "ssl.keystore.location");
        Assert.Equal("/etc/broker.p12", location.Value);
        Assert.False(location.ReadOnly);
        Assert.True(Assert.Single(result.Configs, c => c.Name == "ssl.client.auth").ReadOnly);
    }

    [Fact]
    public async Task The_broker_is_described_by_its_id_and_only_dynamic_keys_are_writable()
    {
        using var broker = new TestBroker("node.id=3", "num.partitions=6");

        var result = await DescribeAsync(broker, Broker, "3");

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        var configs = result.Configs.ToDictionary(c => c.Name);
        Assert.Equal(BrokerConfig.Definitions.Values.Count(d => !ConfigTable.IsPerListenerTemplate(d)), configs.Count);
        Assert.True(configs["num.partitions"].ReadOnly);
        Assert.False(configs["log.retention.ms"].ReadOnly);
        Assert.False(configs["message.max.bytes"].ReadOnly);
        Assert.Equal(("6", StaticBrokerConfig), (configs["num.partitions"].Value, configs["num.partitions"].ConfigSource));
        Assert.Equal(("true", DefaultConfig), (configs["delete.topic.enable"].Value, configs["delete.topic.enable"].ConfigSource));
        Assert.Equal([("num.partitions", "6", StaticBrokerConfig), ("num.partitions", "1", DefaultConfig)], configs["num.partitions"].Synonyms.Select(s => (s.Name, s.Value, s.Source)));
        Assert.Equal([("log.retention.hours", "168", DefaultConfig)], configs["log.retention.hours"].Synonyms.Select(s => (s.Name, s.Value, s.Source)));
        Assert.Equal(1, configs["auto.create.topics.enable"].ConfigType);
    }

    [Fact]
    public async Task The_cluster_default_resource_lists_only_the_dynamic_defaults_set()
    {
        using var broker = new TestBroker("num.partitions=6");

        var result = await DescribeAsync(broker, Broker, "");

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        Assert.Empty(result.Configs);
    }

    [Theory]
    [InlineData(Broker, "7", ErrorCode.InvalidRequest)]
    [InlineData(Broker, "zero", ErrorCode.InvalidRequest)]
    [InlineData(Topic, "missing", ErrorCode.UnknownTopicOrPartition)]
    [InlineData(Topic, "bad name", ErrorCode.InvalidTopicException)]
    [InlineData(8, "", ErrorCode.InvalidRequest)]
    [InlineData(32, "", ErrorCode.InvalidRequest)]
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
