using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests;

/// <summary>
/// Fetch sessions (KIP-227) through the Fetch handler, as a client sees them on the wire: a FULL request opens a
/// session, incremental requests add, update and forget partitions and get back only the partitions with news, and
/// the session errors are Kafka's.
/// </summary>
public sealed class FetchSessionHandlerTests : IDisposable
{
    private const short NamesVersion = 12;
    private const short IdsVersion = 13;

    private readonly TestBroker _broker = new();
    private readonly FetchHandler _fetch;

    public FetchSessionHandlerTests()
    {
        _fetch = new FetchHandler(_broker.Core);
        _broker.CreateTopic("t", 3);
    }

    public void Dispose() => _broker.Dispose();

    [Fact]
    public async Task A_full_fetch_opens_a_session_and_incremental_fetches_carry_only_partitions_with_news()
    {
        Append(0, "a");
        Append(1, "b");
        var full = await FetchAsync(0, FetchSession.InitialEpoch, [(0, 0), (1, 0), (2, 0)]);
        Assert.NotEqual(0, full.SessionId);
        Assert.Equal(new[] { 0, 1, 2 }, Partitions(full));

        // The client moves its offsets on for the partitions that returned records; nothing new: an empty response.
        var caughtUp = await FetchAsync(full.SessionId, 1, [(0, 1), (1, 1)]);
        Assert.Equal(0, caughtUp.ErrorCode);
        Assert.Equal(full.SessionId, caughtUp.SessionId);
        Assert.Empty(caughtUp.Responses);

        // An append to partition 2, which the request does not list, is read from the session's offset for it.
        Append(2, "c");
        var news = await FetchAsync(full.SessionId, 2, []);
        var partition = Assert.Single(Assert.Single(news.Responses).Partitions);
        Assert.Equal(2, partition.PartitionIndex);
        Assert.Equal(1, partition.HighWatermark);
        Assert.True(partition.Records!.Value.Length > 0);

        // Told once: the same high watermark again is no news.
        Assert.Empty((await FetchAsync(full.SessionId, 3, [(2, 1)])).Responses);
    }

    [Fact]
    public async Task An_incremental_fetch_adds_and_forgets_partitions()
    {
        var full = await FetchAsync(0, FetchSession.InitialEpoch, [(0, 0)]);
        Append(0, "a");
        Append(1, "b");

        var added = await FetchAsync(full.SessionId, 1, [(1, 0)], forget: [0]);

        Assert.Equal(new[] { 1 }, Partitions(added));
        Append(0, "c");
        Append(1, "d");
        var next = await FetchAsync(full.SessionId, 2, [(1, 1)]);
        Assert.Equal(new[] { 1 }, Partitions(next));
    }

    [Fact]
    public async Task Session_errors_are_Kafkas()
    {
        var full = await FetchAsync(0, FetchSession.InitialEpoch, [(0, 0)]);

        Assert.Equal(ErrorCode.FetchSessionIdNotFound, (ErrorCode)(await FetchAsync(full.SessionId + 1, 1, [])).ErrorCode);
        Assert.Equal(ErrorCode.InvalidFetchSessionEpoch, (ErrorCode)(await FetchAsync(full.SessionId, 5, [])).ErrorCode);
        var byId = await FetchAsync(full.SessionId, 1, [], version: IdsVersion);
        Assert.Equal(ErrorCode.FetchSessionTopicIdError, (ErrorCode)byId.ErrorCode);
        Assert.Equal(0, byId.SessionId);

        // The failed requests did not move the epoch on.
        Assert.Equal(0, (await FetchAsync(full.SessionId, 1, [])).ErrorCode);
    }

    [Fact]
    public async Task A_final_full_fetch_closes_its_session_and_opens_none()
    {
        var full = await FetchAsync(0, FetchSession.InitialEpoch, [(0, 0)]);

        var closing = await FetchAsync(full.SessionId, FetchSession.FinalEpoch, [(0, 0)]);

        Assert.Equal(0, closing.SessionId);
        Assert.Equal(new[] { 0 }, Partitions(closing));
        Assert.Equal(ErrorCode.FetchSessionIdNotFound, (ErrorCode)(await FetchAsync(full.SessionId, 1, [])).ErrorCode);
        Assert.Equal(0, _broker.Core.FetchSessions.Count);
    }

    [Fact]
    public async Task Sessions_by_topic_id_forget_by_topic_id()
    {
        var id = _broker.Topic("t").Id;
        var full = await FetchAsync(0, FetchSession.InitialEpoch, [(0, 0), (1, 0)], version: IdsVersion);
        Assert.NotEqual(0, full.SessionId);
        Assert.Equal(id, Assert.Single(full.Responses).TopicId);

        Append(0, "a");
        Append(1, "b");
        var next = await FetchAsync(full.SessionId, 1, [], forget: [0], version: IdsVersion);

        var topic = Assert.Single(next.Responses);
        Assert.Equal(id, topic.TopicId);
        Assert.Equal(1, Assert.Single(topic.Partitions).PartitionIndex);
    }

    [Fact]
    public async Task Zero_slots_answer_every_fetch_without_a_session()
    {
        using var broker = new TestBroker("max.incremental.fetch.session.cache.slots=0");
        broker.CreateTopic("t");
        var fetch = new FetchHandler(broker.Core);

        var response = await broker.SendAsync(fetch, Request(0, FetchSession.InitialEpoch, [(0, 0)], [], IdsVersion - 1), NamesVersion);

        Assert.Equal(0, response.ErrorCode);
        Assert.Equal(0, response.SessionId);
        Assert.Single(Assert.Single(response.Responses).Partitions);
    }

    [Fact]
    public async Task A_parked_incremental_fetch_wakes_on_an_append_to_a_session_partition_its_request_does_not_list()
    {
        var full = await FetchAsync(0, FetchSession.InitialEpoch, [(0, 0), (1, 0)]);
        var request = Request(full.SessionId, 1, [], [], NamesVersion);
        request.MinBytes = 1;
        request.MaxWaitMs = FetchHandler.FetchWaitMsMax;

        var parked = _broker.SendAsync(_fetch, request, NamesVersion);
        Append(1, "late");
        var response = await parked.WaitAsync(TimeSpan.FromSeconds(20));

        var partition = Assert.Single(Assert.Single(response.Responses).Partitions);
        Assert.Equal(1, partition.PartitionIndex);
        Assert.True(partition.Records!.Value.Length > 0);
    }

    private void Append(int partition, string value) => _broker.Core.FindLog(_broker.Topic("t"), partition)!.Append(TestBroker.Batch(value));

    private static int[] Partitions(FetchResponse response) => [.. response.Responses.SelectMany(t => t.Partitions).Select(p => p.PartitionIndex)];

    private Task<FetchResponse> FetchAsync(int sessionId, int epoch, (int Partition, long Offset)[] partitions, int[]? forget = null, short version = NamesVersion) =>
        _broker.SendAsync(_fetch, Request(sessionId, epoch, partitions, forget ?? [], version), version);

    private FetchRequest Request(int sessionId, int epoch, (int Partition, long Offset)[] partitions, int[] forget, int version)
    {
        var id = version >= IdsVersion ? _broker.Core.Metadata.Find("t")?.Id ?? Guid.Empty : Guid.Empty;
        var name = version >= IdsVersion ? "" : "t";
        return new FetchRequest
        {
            MaxWaitMs = 0,
            MaxBytes = 1024 * 1024,
            SessionId = sessionId,
            SessionEpoch = epoch,
            Topics = partitions.Length == 0 ? [] : [new FetchRequest.FetchTopic
            {
                Topic = name,
                TopicId = id,
                Partitions = [.. partitions.Select(p => new FetchRequest.FetchPartition { Partition = p.Partition, FetchOffset = p.Offset, PartitionMaxBytes = 64 * 1024 })],
            }],
            ForgottenTopicsData = forget.Length == 0 ? [] : [new FetchRequest.ForgottenTopic { Topic = name, TopicId = id, Partitions = [.. forget] }],
        };
    }
}
