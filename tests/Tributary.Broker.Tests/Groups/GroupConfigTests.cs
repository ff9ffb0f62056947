using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using static Tributary.Protocol.Messages.IncrementalAlterConfigsRequest;

namespace Tributary.Broker.Tests.Groups;

/// <summary>
/// Group configs (Kafka 4's GroupConfig): DescribeConfigs and IncrementalAlterConfigs on a GROUP resource, and the
/// group's KIP-848 members getting its own heartbeat interval and session timeout.
/// </summary>
public sealed class GroupConfigTests : IDisposable
{
    private const sbyte GroupResource = 32;
    private const sbyte Set = 0;
    private const sbyte Delete = 1;
    private const sbyte GroupConfig = 8;
    private const sbyte DefaultConfig = 5;

    private readonly GroupTestBroker _kafka = new();

    public void Dispose() => _kafka.Dispose();

    private Task<IncrementalAlterConfigsResponse> AlterAsync(string group, params (string Key, sbyte Op, string? Value)[] ops) =>
        GroupTestBroker.CallAsync(new IncrementalAlterConfigsHandler(_kafka.Broker), new IncrementalAlterConfigsRequest
        {
            Resources = [new AlterConfigsResource { ResourceType = GroupResource, ResourceName = group, Configs = [.. ops.Select(o => new AlterableConfig { Name = o.Key, ConfigOperation = o.Op, Value = o.Value })] }],
        }, 1);

    private async Task<Dictionary<string, DescribeConfigsResponse.DescribeConfigsResourceResult>> DescribeAsync(string group)
    {
        var request = new DescribeConfigsRequest { Resources = [new() { ResourceType = GroupResource, ResourceName = group, ConfigurationKeys = null }], IncludeSynonyms = true };
        var result = Assert.Single((await GroupTestBroker.CallAsync(new DescribeConfigsHandler(_kafka.Broker), request, 4)).Results);
        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        return result.Configs.ToDictionary(c => c.Name);
    }

    [Fact]
    public async Task A_group_without_configs_describes_the_brokers_group_consumer_values_as_defaults()
    {
        var configs = await DescribeAsync("payments");

        Assert.Equal(["consumer.heartbeat.interval.ms", "consumer.session.timeout.ms"], configs.Keys.Where(k => k.StartsWith("consumer.", StringComparison.Ordinal)));
        Assert.Equal(("latest", DefaultConfig), (configs["share.auto.offset.reset"].Value, configs["share.auto.offset.reset"].ConfigSource));
        Assert.Equal(("30000", DefaultConfig), (configs["share.record.lock.duration.ms"].Value, configs["share.record.lock.duration.ms"].ConfigSource));
        Assert.Equal(("45000", DefaultConfig, false), (configs["consumer.session.timeout.ms"].Value, configs["consumer.session.timeout.ms"].ConfigSource, configs["consumer.session.timeout.ms"].ReadOnly));
        Assert.Equal(("5000", DefaultConfig), (configs["consumer.heartbeat.interval.ms"].Value, configs["consumer.heartbeat.interval.ms"].ConfigSource));
        Assert.Empty(configs["consumer.session.timeout.ms"].Synonyms);
    }

    [Fact]
    public async Task A_group_config_is_stored_described_and_deleted()
    {
        var set = Assert.Single((await AlterAsync("payments", ("consumer.session.timeout.ms", Set, "50000"))).Responses);
        Assert.Equal((short)ErrorCode.None, set.ErrorCode);

        var configs = await DescribeAsync("payments");
        Assert.Equal(("50000", GroupConfig), (configs["consumer.session.timeout.ms"].Value, configs["consumer.session.timeout.ms"].ConfigSource));
        Assert.Equal([("consumer.session.timeout.ms", "50000", GroupConfig)], configs["consumer.session.timeout.ms"].Synonyms.Select(s => (s.Name, s.Value, s.Source)));
        Assert.Equal("45000", (await DescribeAsync("other"))["consumer.session.timeout.ms"].Value);

        await AlterAsync("payments", ("consumer.session.timeout.ms", Delete, null));
        Assert.Equal(("45000", DefaultConfig), ((await DescribeAsync("payments"))["consumer.session.timeout.ms"].Value, (await DescribeAsync("payments"))["consumer.session.timeout.ms"].ConfigSource));
    }

    [Theory]
    [InlineData("consumer.session.timeout.ms", "1000")]
    [InlineData("consumer.heartbeat.interval.ms", "60000")]
    [InlineData("share.session.timeout.ms", "44999")]
    [InlineData("share.auto.offset.reset", "by_duration:soon")]
    [InlineData("streams.session.timeout.ms", "45000")]
    public async Task Out_of_range_values_and_unknown_keys_are_invalid_configs(string key, string value)
    {
        var result = Assert.Single((await AlterAsync("payments", (key, Set, value))).Responses);

        Assert.Equal((short)ErrorCode.InvalidConfig, result.ErrorCode);
        Assert.Equal(DefaultConfig, (await DescribeAsync("payments"))["consumer.session.timeout.ms"].ConfigSource);
    }

    [Fact]
    public async Task A_kip848_member_gets_its_groups_heartbeat_interval()
    {
        _kafka.Broker.CreateTopic("orders", 1, new Dictionary<string, string>());
        await AlterAsync("payments", ("consumer.heartbeat.interval.ms", Set, "7000"));
        ConsumerGroupHeartbeatRequest Join(string group) => new()
        {
            GroupId = group,
            MemberId = "",
            MemberEpoch = 0,
            RebalanceTimeoutMs = 30_000,
            SubscribedTopicNames = ["orders"],
            TopicPartitions = [],
        };

        var configured = await GroupTestBroker.CallAsync(new ConsumerGroupHeartbeatHandler(_kafka.Broker), Join("payments"), 0);
        var plain = await GroupTestBroker.CallAsync(new ConsumerGroupHeartbeatHandler(_kafka.Broker), Join("shipping"), 0);

        Assert.Equal(((short)ErrorCode.None, 7000), (configured.ErrorCode, configured.HeartbeatIntervalMs));
        Assert.Equal(((short)ErrorCode.None, 5000), (plain.ErrorCode, plain.HeartbeatIntervalMs));
    }
}
