using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests;

/// <summary>
/// The versions Apache Kafka 4.2.0 added and the broker serves: Produce v13, OffsetCommit v10 and OffsetFetch v10
/// name topics by id; Metadata v13, Fetch v18 and ListOffsets v11 (earliest pending upload); Metadata v0, which
/// Kafka 4.0 restored. Each request and response passes through its wire encoding at that version.
/// </summary>
public sealed class NewestVersionsTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public void Dispose() => _broker.Dispose();

    [Fact]
    public async Task Produce_v13_writes_to_the_topic_its_id_names_and_refuses_an_unknown_id()
    {
        var topic = _broker.CreateTopic("by-id", partitions: 2);
        var handler = new ProduceHandler(_broker.Core, NullLogger<ProduceHandler>.Instance);
        var unknown = Guid.NewGuid();
        var request = new ProduceRequest
        {
            Acks = 1,
            TimeoutMs = 1000,
            TopicData =
            [
                new() { TopicId = topic.Id, PartitionData = [new() { Index = 1, Records = TestBroker.Batch("a", "b") }] },
                new() { TopicId = unknown, PartitionData = [new() { Index = 0, Records = TestBroker.Batch("c") }] },
            ],
        };

        var response = await _broker.SendAsync(handler, request, 13);

        Assert.Equal([topic.Id, unknown], response.Responses.Select(r => r.TopicId));
        Assert.Equal((short)ErrorCode.None, response.Responses[0].PartitionResponses.Single().ErrorCode);
        Assert.Equal((short)ErrorCode.UnknownTopicId, response.Responses[1].PartitionResponses.Single().ErrorCode);
        Assert.Equal(2, _broker.Core.FindLog(topic, 1)!.LogEndOffset);
        Assert.Equal(0, _broker.Core.FindLog(topic, 0)!.LogEndOffset);
    }

    [Fact]
    public async Task Produce_v12_is_v11()
    {
        var topic = _broker.CreateTopic("v12");
        var handler = new ProduceHandler(_broker.Core, NullLogger<ProduceHandler>.Instance);
        var request = new ProduceRequest { Acks = -1, TimeoutMs = 1000, TopicData = [new() { Name = "v12", PartitionData = [new() { Index = 0, Records = TestBroker.Batch("x") }] }] };

        var response = await _broker.SendAsync(handler, request, 12);

        Assert.Equal("v12", response.Responses.Single().Name);
        Assert.Equal(0, response.Responses.Single().PartitionResponses.Single().BaseOffset);
        Assert.Equal(1, _broker.Core.FindLog(topic, 0)!.LogEndOffset);
    }

    [Fact]
    public async Task OffsetCommit_and_OffsetFetch_v10_name_topics_by_id()
    {
        var topic = _broker.CreateTopic("committed", partitions: 2);
        var commit = new OffsetCommitHandler(_broker.Core);
        var fetch = new OffsetFetchHandler(_broker.Core);
        var unknown = Guid.NewGuid();
        var request = new OffsetCommitRequest
        {
            GroupId = "g10",
            GenerationIdOrMemberEpoch = -1,
            MemberId = "",
            Topics =
            [
                new() { TopicId = topic.Id, Partitions = [new() { PartitionIndex = 1, CommittedOffset = 42, CommittedMetadata = "m" }] },
                new() { TopicId = unknown, Partitions = [new() { PartitionIndex = 0, CommittedOffset = 7 }] },
            ],
        };

        var committed = await _broker.SendAsync(commit, request, 10);

        Assert.Equal([topic.Id, unknown], committed.Topics.Select(t => t.TopicId));
        Assert.Equal((short)ErrorCode.None, committed.Topics[0].Partitions.Single().ErrorCode);
        Assert.Equal((short)ErrorCode.UnknownTopicId, committed.Topics[1].Partitions.Single().ErrorCode);

        var asked = await _broker.SendAsync(fetch, new OffsetFetchRequest
        {
            Groups = [new() { GroupId = "g10", Topics = [new() { TopicId = topic.Id, PartitionIndexes = [0, 1] }, new() { TopicId = unknown, PartitionIndexes = [0] }] }],
        }, 10);
        var group = asked.Groups.Single();
        var known = group.Topics.Single(t => t.TopicId == topic.Id);
        Assert.Equal([-1L, 42L], known.Partitions.OrderBy(p => p.PartitionIndex).Select(p => p.CommittedOffset));
        Assert.Equal("m", known.Partitions.Single(p => p.PartitionIndex == 1).Metadata);
        Assert.Equal((short)ErrorCode.UnknownTopicId, group.Topics.Single(t => t.TopicId == unknown).Partitions.Single().ErrorCode);

        var all = await _broker.SendAsync(fetch, new OffsetFetchRequest { Groups = [new() { GroupId = "g10", Topics = null }] }, 10);
        var only = all.Groups.Single().Topics.Single();
        Assert.Equal(topic.Id, only.TopicId);
        Assert.Equal(42, only.Partitions.Single().CommittedOffset);

        // The same commit is visible by name at v9.
        var byName = await _broker.SendAsync(fetch, new OffsetFetchRequest { Groups = [new() { GroupId = "g10", Topics = [new() { Name = "committed", PartitionIndexes = [1] }] }] }, 9);
        Assert.Equal(42, byName.Groups.Single().Topics.Single().Partitions.Single().CommittedOffset);
    }

    [Fact]
    public async Task ListOffsets_v11_answers_earliest_pending_upload_as_kafka_without_remote_storage()
    {
        var topic = _broker.CreateTopic("listed");
        await _broker.SendAsync(new ProduceHandler(_broker.Core, NullLogger<ProduceHandler>.Instance),
            new ProduceRequest { Acks = 1, TimeoutMs = 1000, TopicData = [new() { Name = "listed", PartitionData = [new() { Index = 0, Records = TestBroker.Batch("a", "b", "c") }] }] }, 9);
        var handler = new ListOffsetsHandler(_broker.Core);

        ListOffsetsRequest Ask(long spec) => new() { ReplicaId = -1, Topics = [new() { Name = "listed", Partitions = [new() { PartitionIndex = 0, Timestamp = spec }] }] };
        async Task<ListOffsetsResponse.ListOffsetsPartitionResponse> AnswerAsync(long spec, short version) =>
            (await _broker.SendAsync(handler, Ask(spec), version)).Topics.Single().Partitions.Single();

        var pending = await AnswerAsync(-6, 11);
        Assert.Equal(((short)ErrorCode.None, -1L, -1L, -1), (pending.ErrorCode, pending.Offset, pending.Timestamp, pending.LeaderEpoch));
        Assert.Equal(-1, (await AnswerAsync(-5, 11)).Offset);
        Assert.Equal(0, (await AnswerAsync(-4, 11)).Offset);
        Assert.Equal(3, (await AnswerAsync(-1, 11)).Offset);
        Assert.Equal((short)ErrorCode.UnsupportedVersion, (await AnswerAsync(-6, 10)).ErrorCode);
        Assert.Equal((short)ErrorCode.UnsupportedVersion, (await AnswerAsync(-3, 6)).ErrorCode);
        Assert.Equal(topic.Name, (await _broker.SendAsync(handler, Ask(-2), 11)).Topics.Single().Name);
    }

    [Fact]
    public async Task Metadata_v13_answers_with_no_top_level_error_and_v0_lists_every_topic_for_an_empty_list()
    {
        _broker.CreateTopic("m1");
        _broker.CreateTopic("m2", partitions: 3);
        var handler = new MetadataHandler(_broker.Core);

        var v13 = await _broker.SendAsync(handler, new MetadataRequest { Topics = null }, 13);
        Assert.Equal(0, v13.ErrorCode);
        Assert.Equal(["m1", "m2"], v13.Topics.Select(t => t.Name));

        var v0 = await _broker.SendAsync(handler, new MetadataRequest { Topics = [] }, 0);
        Assert.Equal(["m1", "m2"], v0.Topics.Select(t => t.Name));
        Assert.Equal(3, v0.Topics[1].Partitions.Count);

        var v1 = await _broker.SendAsync(handler, new MetadataRequest { Topics = [] }, 1);
        Assert.Empty(v1.Topics);
    }

    [Fact]
    public async Task Fetch_v18_reads_like_v17()
    {
        var topic = _broker.CreateTopic("fetched");
        await _broker.SendAsync(new ProduceHandler(_broker.Core, NullLogger<ProduceHandler>.Instance),
            new ProduceRequest { Acks = 1, TimeoutMs = 1000, TopicData = [new() { Name = "fetched", PartitionData = [new() { Index = 0, Records = TestBroker.Batch("a", "b") }] }] }, 9);
        var request = new FetchRequest
        {
            ReplicaId = -1,
            MaxWaitMs = 0,
            MinBytes = 0,
            MaxBytes = 1 << 20,
            Topics = [new() { TopicId = topic.Id, Partitions = [new() { Partition = 0, FetchOffset = 0, PartitionMaxBytes = 1 << 20 }] }],
        };

        var response = await _broker.SendAsync(new FetchHandler(_broker.Core), request, 18);

        var partition = response.Responses.Single().Partitions.Single();
        Assert.Equal((short)ErrorCode.None, partition.ErrorCode);
        Assert.Equal(2, partition.HighWatermark);
        Assert.True(partition.Records is { Length: > 0 });
    }
}
