using Tributary.Broker.Config;
using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using static Tributary.Protocol.Messages.CreateTopicsRequest;

namespace Tributary.Broker.Tests;

/// <summary>CreateTopics as an admin client sees it: what gets created, with which configs, and the error for each mistake.</summary>
public sealed class CreateTopicsHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new("num.partitions=4");
    private readonly CreateTopicsHandler _handler;

    public CreateTopicsHandlerTests() => _handler = new CreateTopicsHandler(_broker.Core);

    public void Dispose() => _broker.Dispose();

    private static CreatableTopic Topic(string name, int partitions = 3, short replicationFactor = -1, params (string Key, string? Value)[] configs) => new()
    {
        Name = name,
        NumPartitions = partitions,
        ReplicationFactor = replicationFactor,
        Configs = [.. configs.Select(c => new CreatableTopicConfig { Name = c.Key, Value = c.Value })],
    };

    private async Task<CreateTopicsResponse.CreatableTopicResult> CreateOneAsync(CreatableTopic topic, short version = 7, bool validateOnly = false)
    {
        var response = await _broker.SendAsync(_handler, new CreateTopicsRequest { Topics = [topic], ValidateOnly = validateOnly }, version);
        return Assert.Single(response.Topics);
    }

    [Fact]
    public async Task Creates_the_topic_with_its_partitions_and_configs_and_reports_them()
    {
        var result = await CreateOneAsync(Topic("orders", 3, 1, ("retention.ms", "1000"), ("cleanup.policy", "compact")));

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        Assert.Null(result.ErrorMessage);
        var topic = _broker.Topic("orders");
        Assert.Equal(3, topic.PartitionCount);
        Assert.Equal(new Dictionary<string, string> { ["retention.ms"] = "1000", ["cleanup.policy"] = "compact" }, topic.Configs);
        Assert.Equal(1000, _broker.Core.FindLog(topic, 2)!.Config.RetentionMs);
        Assert.Equal(topic.Id, result.TopicId);
        Assert.Equal(3, result.NumPartitions);
        Assert.Equal(1, result.ReplicationFactor);
        var configs = result.Configs!.ToDictionary(c => c.Name);
        Assert.Equal(TopicConfigs.Definitions.Count, configs.Count);
        Assert.Equal(("1000", (sbyte)1), (configs["retention.ms"].Value, configs["retention.ms"].ConfigSource));
        Assert.Equal(("1073741824", (sbyte)5), (configs["segment.bytes"].Value, configs["segment.bytes"].ConfigSource));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    public async Task Every_supported_version_creates_the_topic(short version)
    {
        var result = await CreateOneAsync(Topic("v" + version, 2), version);

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        Assert.Equal(2, _broker.Topic("v" + version).PartitionCount);
        Assert.Equal(version >= 5 ? 2 : -1, result.NumPartitions);
        Assert.Equal(version >= 7, result.TopicId != Guid.Empty);
    }

    [Fact]
    public async Task Minus_one_partitions_uses_the_broker_default()
    {
        var result = await CreateOneAsync(Topic("defaulted", -1, -1));

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        Assert.Equal(4, _broker.Topic("defaulted").PartitionCount);
        Assert.Equal(4, result.NumPartitions);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-2)]
    [InlineData(BrokerConfig.PartitionsPerTopicMax + 1)]
    public async Task A_partition_count_out_of_range_is_invalid_partitions(int partitions)
    {
        var result = await CreateOneAsync(Topic("t", partitions));

        Assert.Equal((short)ErrorCode.InvalidPartitions, result.ErrorCode);
        Assert.NotNull(result.ErrorMessage);
        Assert.Null(_broker.Core.Metadata.Find("t"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public async Task A_replication_factor_other_than_one_is_invalid(short replicationFactor)
    {
        var result = await CreateOneAsync(Topic("t", 1, replicationFactor));

        Assert.Equal((short)ErrorCode.InvalidReplicationFactor, result.ErrorCode);
        Assert.Null(_broker.Core.Metadata.Find("t"));
    }

    [Fact]
    public async Task Assignments_to_this_broker_decide_the_partition_count()
    {
        var topic = Topic("assigned", -1, -1);
        topic.Assignments = [.. Enumerable.Range(0, 5).Select(p => new CreatableReplicaAssignment { PartitionIndex = 4 - p, BrokerIds = [0] })];

        var result = await CreateOneAsync(topic);

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        Assert.Equal(5, _broker.Topic("assigned").PartitionCount);
    }

    [Theory]
    [InlineData(new[] { 0 }, new[] { 1 })]
    [InlineData(new[] { 0, 1 }, new[] { 0, 0 })]
    [InlineData(new[] { 0, 2 }, new[] { 0 })]
    [InlineData(new[] { 0, 0 }, new[] { 0 })]
    public async Task Assignments_naming_other_brokers_or_skipping_partitions_are_invalid(int[] partitions, int[] brokers)
    {
        var topic = Topic("t", -1, -1);
        topic.Assignments = [.. partitions.Select(p => new CreatableReplicaAssignment { PartitionIndex = p, BrokerIds = [.. brokers] })];

        var result = await CreateOneAsync(topic);

        Assert.Equal((short)ErrorCode.InvalidReplicaAssignment, result.ErrorCode);
        Assert.Null(_broker.Core.Metadata.Find("t"));
    }

    [Fact]
    public async Task Assignments_with_a_partition_count_are_an_invalid_request()
    {
        var topic = Topic("t", 1, -1);
        topic.Assignments = [new CreatableReplicaAssignment { PartitionIndex = 0, BrokerIds = [0] }];

        Assert.Equal((short)ErrorCode.InvalidRequest, (await CreateOneAsync(topic)).ErrorCode);
    }

    [Theory]
    [InlineData("no.such.config", "1", "no.such.config")]
    [InlineData("retention.ms", "soon", "retention.ms")]
    [InlineData("cleanup.policy", "delete,forever", "forever")]
    [InlineData("segment.bytes", null, "segment.bytes")]
    [InlineData("segment.bytes", "20", "segment.bytes")]
    public async Task Bad_configs_are_invalid_config_with_a_message_naming_them(string key, string? value, string named)
    {
        var result = await CreateOneAsync(Topic("t", 1, -1, (key, value)));

        Assert.Equal((short)ErrorCode.InvalidConfig, result.ErrorCode);
        Assert.Contains(named, result.ErrorMessage);
        Assert.Null(_broker.Core.Metadata.Find("t"));
    }

    [Fact]
    public async Task The_smallest_segment_bytes_the_config_accepts_is_one_the_log_opens_with()
    {
        var smallest = TopicConfigs.Definitions[TopicConfigs.SegmentBytes].Min.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var result = await CreateOneAsync(Topic("small", 1, -1, (TopicConfigs.SegmentBytes, smallest)));

        Assert.Equal((short)ErrorCode.None, result.ErrorCode);
        Assert.Equal(smallest, _broker.Core.FindLog(_broker.Topic("small"), 0)!.Config.SegmentBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task An_existing_topic_is_not_replaced()
    {
        var existing = _broker.CreateTopic("orders", 2);

        var result = await CreateOneAsync(Topic("orders", 5));

        Assert.Equal((short)ErrorCode.TopicAlreadyExists, result.ErrorCode);
        Assert.Equal(existing, _broker.Topic("orders"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("..")]
    [InlineData("has space")]
    [InlineData("a/b")]
    [InlineData("rel-x\n")]
    public async Task Illegal_names_are_invalid_topic_exception(string name)
    {
        var result = await CreateOneAsync(Topic(name, 1));

        Assert.Equal((short)ErrorCode.InvalidTopicException, result.ErrorCode);
        Assert.Empty(_broker.Core.Metadata.Topics);
    }

    [Fact]
    public async Task A_name_colliding_with_an_existing_one_on_dot_and_underscore_is_invalid()
    {
        _broker.CreateTopic("web_clicks");

        var result = await CreateOneAsync(Topic("web.clicks", 1));

        Assert.Equal((short)ErrorCode.InvalidTopicException, result.ErrorCode);
        Assert.Contains("web_clicks", result.ErrorMessage);
    }

    [Fact]
    public async Task A_name_given_twice_fails_once_and_the_rest_of_the_request_still_runs()
    {
        var request = new CreateTopicsRequest { Topics = [Topic("twice", 1), Topic("once", 1), Topic("twice", 2)] };

        var response = await _broker.SendAsync(_handler, request, 7);

        Assert.Equal(
            [("twice", (short)ErrorCode.InvalidRequest), ("once", (short)ErrorCode.None)],
            response.Topics.Select(t => (t.Name, t.ErrorCode)));
        Assert.Null(_broker.Core.Metadata.Find("twice"));
        Assert.NotNull(_broker.Core.Metadata.Find("once"));
    }

    [Fact]
    public async Task Validate_only_answers_as_if_created_but_creates_nothing()
    {
        var ok = await CreateOneAsync(Topic("dry", 3, -1, ("retention.ms", "5")), validateOnly: true);
        var bad = await CreateOneAsync(Topic("dry", 0), validateOnly: true);

        Assert.Equal((short)ErrorCode.None, ok.ErrorCode);
        Assert.Equal(3, ok.NumPartitions);
        Assert.Equal("5", ok.Configs!.Single(c => c.Name == "retention.ms").Value);
        Assert.Equal(Guid.Empty, ok.TopicId);
        Assert.Equal((short)ErrorCode.InvalidPartitions, bad.ErrorCode);
        Assert.Empty(_broker.Core.Metadata.Topics);
    }

    [Fact]
    public void The_error_response_answers_every_topic()
    {
        var request = new CreateTopicsRequest { Topics = [Topic("a"), Topic("b")] };

        var response = _broker.ErrorResponse(_handler, request, 7, ErrorCode.NotController);

        Assert.Equal([("a", (short)ErrorCode.NotController), ("b", (short)ErrorCode.NotController)], response.Topics.Select(t => (t.Name, t.ErrorCode)));
        Assert.Empty(_broker.Core.Metadata.Topics);
    }
}
