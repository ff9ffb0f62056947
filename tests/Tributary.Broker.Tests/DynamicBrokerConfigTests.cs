using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using static Tributary.Protocol.Messages.IncrementalAlterConfigsRequest;

namespace Tributary.Broker.Tests;

/// <summary>
/// Dynamic broker configs: IncrementalAlterConfigs and AlterConfigs on a BROKER resource change Kafka's dynamic keys at
/// runtime, topics inherit them at once, DescribeConfigs names their source, and they survive a restart.
/// </summary>
public sealed class DynamicBrokerConfigTests : IDisposable
{
    private const sbyte Topic = 2;
    private const sbyte Broker = 4;
    private const sbyte Set = 0;
    private const sbyte Delete = 1;
    private const sbyte DynamicTopicConfig = 1;
    private const sbyte DynamicBrokerConfig = 2;
    private const sbyte DynamicDefaultBrokerConfig = 3;
    private const sbyte StaticBrokerConfig = 4;
    private const sbyte DefaultConfig = 5;

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tributary-dynamic-config-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static async Task<IncrementalAlterConfigsResponse.AlterConfigsResourceResponse> AlterAsync(TestBroker broker, string name, params (string Key, sbyte Op, string? Value)[] ops)
    {
        var request = new IncrementalAlterConfigsRequest
        {
            Resources = [new AlterConfigsResource { ResourceType = Broker, ResourceName = name, Configs = [.. ops.Select(o => new AlterableConfig { Name = o.Key, ConfigOperation = o.Op, Value = o.Value })] }],
        };
        return Assert.Single((await broker.SendAsync(new IncrementalAlterConfigsHandler(broker.Core), request, 1)).Responses);
    }

    private static async Task<Dictionary<string, DescribeConfigsResponse.DescribeConfigsResourceResult>> DescribeAsync(TestBroker broker, sbyte type, string name)
    {
        var request = new DescribeConfigsRequest { Resources = [new() { ResourceType = type, ResourceName = name, ConfigurationKeys = null }], IncludeSynonyms = true };
        var result = Assert.Single((await broker.SendAsync(new DescribeConfigsHandler(broker.Core), request, 4)).Results);
        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        return result.Configs.ToDictionary(c => c.Name);
    }

    private static IEnumerable<(string, string?, sbyte)> Synonyms(DescribeConfigsResponse.DescribeConfigsResourceResult config) =>
        config.Synonyms.Select(s => (s.Name, s.Value, s.Source));

    [Fact]
    public async Task A_dynamic_broker_value_applies_at_once_to_every_topic_without_an_override()
    {
        using var broker = new TestBroker("log.segment.bytes=2048");
        var inheriting = broker.CreateTopic("orders");
        var overriding = broker.CreateTopic("audit", 1, new Dictionary<string, string> { ["retention.ms"] = "1000" });
        Assert.Equal(604_800_000, broker.Core.SettingsFor(inheriting).Log.RetentionMs);

        var result = await AlterAsync(broker, "0", ("log.retention.ms", Set, "60000"), ("log.segment.bytes", Set, "4096"), ("message.max.bytes", Set, "2000"));

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        var settings = broker.Core.SettingsFor(broker.Topic("orders"));
        Assert.Equal((60_000L, 4096, 2000), (settings.Log.RetentionMs, settings.Log.SegmentBytes, settings.MaxMessageBytes));
        Assert.Equal(60_000, broker.Core.FindLog(broker.Topic("orders"), 0)!.Config.RetentionMs);
        Assert.Equal(1000, broker.Core.SettingsFor(overriding).Log.RetentionMs);

        var topic = await DescribeAsync(broker, Topic, "orders");
        Assert.Equal(("60000", DynamicBrokerConfig), (topic["retention.ms"].Value, topic["retention.ms"].ConfigSource));
        Assert.Equal([("log.retention.ms", "60000", DynamicBrokerConfig), ("log.retention.hours", "168", DefaultConfig)], Synonyms(topic["retention.ms"]));
        Assert.Equal(
            [("log.segment.bytes", "4096", DynamicBrokerConfig), ("log.segment.bytes", "2048", StaticBrokerConfig), ("log.segment.bytes", "1073741824", DefaultConfig)],
            Synonyms(topic["segment.bytes"]));
        var own = await DescribeAsync(broker, Broker, "0");
        Assert.Equal(("4096", DynamicBrokerConfig, false), (own["log.segment.bytes"].Value, own["log.segment.bytes"].ConfigSource, own["log.segment.bytes"].ReadOnly));
        var audit = await DescribeAsync(broker, Topic, "audit");
        Assert.Equal(("1000", DynamicTopicConfig), (audit["retention.ms"].Value, audit["retention.ms"].ConfigSource));
    }

    [Fact]
    public async Task The_cluster_default_is_a_dynamic_default_and_this_brokers_own_value_wins_over_it()
    {
        using var broker = new TestBroker();
        broker.CreateTopic("orders");

        Assert.Equal((short)ErrorCode.None, (await AlterAsync(broker, "", ("log.retention.bytes", Set, "1000000"), ("log.roll.ms", Set, "5000"))).ErrorCode);
        Assert.Equal((short)ErrorCode.None, (await AlterAsync(broker, "0", ("log.retention.bytes", Set, "2000000"))).ErrorCode);

        var topic = await DescribeAsync(broker, Topic, "orders");
        Assert.Equal(("2000000", DynamicBrokerConfig), (topic["retention.bytes"].Value, topic["retention.bytes"].ConfigSource));
        Assert.Equal(
            [("log.retention.bytes", "2000000", DynamicBrokerConfig), ("log.retention.bytes", "1000000", DynamicDefaultBrokerConfig), ("log.retention.bytes", "-1", DefaultConfig)],
            Synonyms(topic["retention.bytes"]));
        Assert.Equal(("5000", DynamicDefaultBrokerConfig), (topic["segment.ms"].Value, topic["segment.ms"].ConfigSource));
        var clusterDefault = await DescribeAsync(broker, Broker, "");
        Assert.Equal(["log.retention.bytes", "log.roll.ms"], clusterDefault.Keys);
        Assert.Equal(("1000000", DynamicDefaultBrokerConfig), (clusterDefault["log.retention.bytes"].Value, clusterDefault["log.retention.bytes"].ConfigSource));

        // Deleting this broker's value falls back to the cluster default.
        Assert.Equal((short)ErrorCode.None, (await AlterAsync(broker, "0", ("log.retention.bytes", Delete, null))).ErrorCode);
        Assert.Equal(1_000_000, broker.Core.SettingsFor(broker.Topic("orders")).Log.RetentionBytes);
    }

    [Fact]
    public async Task Dynamic_broker_configs_survive_a_restart()
    {
        using (var broker = TestBroker.OnDisk(_directory))
        {
            broker.CreateTopic("orders");
            Assert.Equal((short)ErrorCode.None, (await AlterAsync(broker, "0", ("log.retention.ms", Set, "60000"))).ErrorCode);
            Assert.Equal((short)ErrorCode.None, (await AlterAsync(broker, "", ("log.message.timestamp.type", Set, "LogAppendTime"))).ErrorCode);
        }

        using var restarted = TestBroker.OnDisk(_directory);
        var settings = restarted.Core.SettingsFor(restarted.Topic("orders"));
        Assert.Equal((60_000L, true), (settings.Log.RetentionMs, settings.LogAppendTime));
        var own = await DescribeAsync(restarted, Broker, "0");
        Assert.Equal(("60000", DynamicBrokerConfig), (own["log.retention.ms"].Value, own["log.retention.ms"].ConfigSource));
        Assert.Equal(("LogAppendTime", DynamicDefaultBrokerConfig), (own["log.message.timestamp.type"].Value, own["log.message.timestamp.type"].ConfigSource));
    }

    [Fact]
    public async Task A_metadata_snapshot_without_dynamic_configs_still_opens()
    {
        Directory.CreateDirectory(_directory);
        var id = Guid.NewGuid();
        File.WriteAllText(
            Path.Combine(_directory, Metadata.MetadataStore.FileName),
            $$$"""{"ClusterId":"AAAAAAAAAAAAAAAAAAAAAA","Topics":[{"Name":"orders","Id":"{{{id}}}","PartitionCount":1,"Configs":{"retention.ms":"1000"}}]}""");

        using var broker = TestBroker.OnDisk(_directory);

        Assert.Equal((id, 1000L), (broker.Topic("orders").Id, broker.Core.SettingsFor(broker.Topic("orders")).Log.RetentionMs));
        Assert.Empty(await DescribeAsync(broker, Broker, ""));
        Assert.Equal((short)ErrorCode.None, (await AlterAsync(broker, "", ("log.retention.bytes", Set, "5000"))).ErrorCode);
    }

    [Theory]
    [InlineData("0", "node.id", "5", "Invalid config value for resource ConfigResource(type=BROKER, name='0'): Cannot update these configs dynamically: Set(node.id)")]
    [InlineData("0", "no.such.key", "5", "Invalid config value for resource ConfigResource(type=BROKER, name='0'): Cannot update these configs dynamically: Set(no.such.key)")]
    [InlineData("0", "log.retention.ms", "soon", "Invalid config value for resource ConfigResource(type=BROKER, name='0'): log.retention.ms=soon: expected an integer")]
    [InlineData("1", "log.retention.ms", "5", "unexpected broker id, expected 0 or an empty name, but received 1")]
    public async Task Static_keys_bad_values_and_other_brokers_are_invalid_requests_and_change_nothing(string name, string key, string value, string message)
    {
        using var broker = new TestBroker();
        broker.CreateTopic("orders");

        var result = await AlterAsync(broker, name, ("log.retention.bytes", Set, "5000"), (key, Set, value));

        Assert.Equal(((short)ErrorCode.InvalidRequest, message), (result.ErrorCode, result.ErrorMessage));
        Assert.Equal(-1, broker.Core.SettingsFor(broker.Topic("orders")).Log.RetentionBytes);
        Assert.Empty(await DescribeAsync(broker, Broker, ""));
    }

    [Fact]
    public async Task Legacy_alter_configs_replaces_the_whole_dynamic_set()
    {
        using var broker = new TestBroker();
        broker.CreateTopic("orders");
        await AlterAsync(broker, "0", ("log.retention.bytes", Set, "5000"));
        var request = new AlterConfigsRequest
        {
            Resources = [new() { ResourceType = Broker, ResourceName = "0", Configs = [new() { Name = "log.retention.ms", Value = "70000" }] }],
        };

        var result = Assert.Single((await broker.SendAsync(new AlterConfigsHandler(broker.Core), request, 2)).Responses);

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        var settings = broker.Core.SettingsFor(broker.Topic("orders"));
        Assert.Equal((70_000L, -1L), (settings.Log.RetentionMs, settings.Log.RetentionBytes));
    }
}
