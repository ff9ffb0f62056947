using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests;

/// <summary>
/// Versions Kafka 4.0 removed from its schemas that clients still send and the broker keeps serving (the codec
/// declares their fields again in the generator's LegacyVersions): ListOffsets v0 (Burrow), OffsetCommit v0-1 and
/// DescribeConfigs v0 (sarama's defaults), OffsetFetch v0, CreateTopics v0-1 and DeleteTopics v0.
/// </summary>
public sealed class OldestVersionsTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public void Dispose() => _broker.Dispose();

    [Fact]
    public async Task ListOffsets_v0_answers_a_list_with_the_offset_found()
    {
        _broker.CreateTopic("old");
        await _broker.SendAsync(new ProduceHandler(_broker.Core, NullLogger<ProduceHandler>.Instance),
            new ProduceRequest { Acks = 1, TimeoutMs = 1000, TopicData = [new() { Name = "old", PartitionData = [new() { Index = 0, Records = TestBroker.Batch("a", "b", "c") }] }] }, 3);
        var handler = new ListOffsetsHandler(_broker.Core);

        async Task<ListOffsetsResponse.ListOffsetsPartitionResponse> AskAsync(long timestamp, int maxNumOffsets) =>
            (await _broker.SendAsync(handler, new ListOffsetsRequest
            {
                ReplicaId = -1,
                Topics = [new() { Name = "old", Partitions = [new() { PartitionIndex = 0, Timestamp = timestamp, MaxNumOffsets = maxNumOffsets }] }],
            }, 0)).Topics.Single().Partitions.Single();

        Assert.Equal([3L], (await AskAsync(-1, 1)).OldStyleOffsets);
        Assert.Equal([0L], (await AskAsync(-2, 1)).OldStyleOffsets);
        Assert.Empty((await AskAsync(-1, 0)).OldStyleOffsets);
        Assert.Empty((await AskAsync(9_999_999_999_999, 1)).OldStyleOffsets);
    }

    [Fact]
    public async Task OffsetCommit_v0_and_v1_are_simple_commits_that_OffsetFetch_v0_reads()
    {
        _broker.CreateTopic("committed", partitions: 2);
        var commit = new OffsetCommitHandler(_broker.Core);

        var v0 = await _broker.SendAsync(commit, new OffsetCommitRequest
        {
            GroupId = "sarama",
            Topics = [new() { Name = "committed", Partitions = [new() { PartitionIndex = 0, CommittedOffset = 5, CommittedMetadata = "zero" }] }],
        }, 0);
        var v1 = await _broker.SendAsync(commit, new OffsetCommitRequest
        {
            GroupId = "sarama",
            GenerationIdOrMemberEpoch = -1,
            MemberId = "",
            Topics = [new() { Name = "committed", Partitions = [new() { PartitionIndex = 1, CommittedOffset = 9, CommitTimestamp = 1_700_000_000_000, CommittedMetadata = "one" }] }],
        }, 1);

        Assert.Equal((short)ErrorCode.None, v0.Topics.Single().Partitions.Single().ErrorCode);
        Assert.Equal((short)ErrorCode.None, v1.Topics.Single().Partitions.Single().ErrorCode);
        var fetched = await _broker.SendAsync(new OffsetFetchHandler(_broker.Core), new OffsetFetchRequest
        {
            GroupId = "sarama",
            Topics = [new() { Name = "committed", PartitionIndexes = [0, 1] }],
        }, 0);
        Assert.Equal([(5L, "zero"), (9L, "one")], fetched.Topics.Single().Partitions.OrderBy(p => p.PartitionIndex).Select(p => (p.CommittedOffset, p.Metadata!)));
    }

    [Fact]
    public async Task DescribeConfigs_v0_says_which_values_are_defaults()
    {
        _broker.CreateTopic("described", configs: new Dictionary<string, string> { ["retention.ms"] = "1000" });

        var response = await _broker.SendAsync(new DescribeConfigsHandler(_broker.Core), new DescribeConfigsRequest
        {
            Resources = [new() { ResourceType = 2, ResourceName = "described", ConfigurationKeys = ["retention.ms", "cleanup.policy"] }],
        }, 0);

        var configs = response.Results.Single().Configs.ToDictionary(c => c.Name);
        Assert.False(configs["retention.ms"].IsDefault);
        Assert.Equal("1000", configs["retention.ms"].Value);
        Assert.True(configs["cleanup.policy"].IsDefault);
    }

    [Fact]
    public async Task CreateTopics_v0_and_DeleteTopics_v0_create_and_delete()
    {
        var created = await _broker.SendAsync(new CreateTopicsHandler(_broker.Core), new CreateTopicsRequest
        {
            TimeoutMs = 1000,
            Topics = [new() { Name = "made-v0", NumPartitions = 2, ReplicationFactor = 1 }],
        }, 0);
        Assert.Equal((short)ErrorCode.None, created.Topics.Single().ErrorCode);
        Assert.Equal(2, _broker.Topic("made-v0").PartitionCount);

        var deleted = await _broker.SendAsync(new DeleteTopicsHandler(_broker.Core), new DeleteTopicsRequest { TopicNames = ["made-v0"], TimeoutMs = 1000 }, 0);
        Assert.Equal((short)ErrorCode.None, deleted.Responses.Single().ErrorCode);
        Assert.Null(_broker.Core.Metadata.Find("made-v0"));
    }
}
