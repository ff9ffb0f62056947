using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;

namespace Tributary.Broker.Tests;

/// <summary>DeleteTopics by name (v1-5) and by name or id (v6): the topic and its data are gone afterwards.</summary>
public sealed class DeleteTopicsHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();
    private readonly DeleteTopicsHandler _handler;

    public DeleteTopicsHandlerTests() => _handler = new DeleteTopicsHandler(_broker.Core);

    public void Dispose() => _broker.Dispose();

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task Deleting_by_name_removes_the_topic_and_its_logs(short version)
    {
        _broker.CreateTopic("orders", 2);

        var response = await _broker.SendAsync(_handler, new DeleteTopicsRequest { TopicNames = ["orders"] }, version);

        var result = Assert.Single(response.Responses);
        Assert.Equal(("orders", (short)ErrorCode.None), (result.Name, result.ErrorCode));
        Assert.Null(_broker.Core.Metadata.Find("orders"));
        Assert.False(_broker.Core.Logs.TryGet("orders", 0, out _));
        Assert.False(_broker.Core.Logs.TryGet("orders", 1, out _));
    }

    [Fact]
    public async Task Deleting_by_id_answers_with_the_name_and_id()
    {
        var topic = _broker.CreateTopic("orders");

        var response = await _broker.SendAsync(_handler, new DeleteTopicsRequest { Topics = [new DeleteTopicsRequest.DeleteTopicState { TopicId = topic.Id }] }, 6);

        var result = Assert.Single(response.Responses);
        Assert.Equal(("orders", topic.Id, (short)ErrorCode.None), (result.Name, result.TopicId, result.ErrorCode));
        Assert.Null(_broker.Core.Metadata.Find(topic.Id));
    }

    [Fact]
    public async Task A_deleted_topics_directories_wait_out_file_delete_delay_ms_unless_it_is_zero()
    {
        var directory = Directory.CreateTempSubdirectory("tributary-delete-delay-").FullName;
        try
        {
            using (var broker = TestBroker.OnDisk(directory))
            {
                broker.CreateTopic("kept");
                broker.CreateTopic("gone", configs: new Dictionary<string, string> { ["file.delete.delay.ms"] = "0" });

                await broker.SendAsync(new DeleteTopicsHandler(broker.Core), new DeleteTopicsRequest { TopicNames = ["kept", "gone"] }, 5);

                var names = Directory.GetDirectories(directory).Select(Path.GetFileName).ToList();
                Assert.Matches("^kept-0\\.[0-9a-f]{32}-delete$", Assert.Single(names, n => n!.StartsWith("kept", StringComparison.Ordinal)));
                Assert.DoesNotContain(names, n => n!.StartsWith("gone", StringComparison.Ordinal));
            }

            // The broker key sets the default of topics.
            using (var broker = TestBroker.OnDisk(directory, "log.segment.delete.delay.ms=0"))
            {
                broker.CreateTopic("quick");
                await broker.SendAsync(new DeleteTopicsHandler(broker.Core), new DeleteTopicsRequest { TopicNames = ["quick"] }, 5);

                Assert.DoesNotContain(Directory.GetDirectories(directory).Select(Path.GetFileName), n => n!.StartsWith("quick", StringComparison.Ordinal));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task A_recreated_topic_starts_empty()
    {
        var topic = _broker.CreateTopic("orders");
        _broker.Core.FindLog(topic, 0)!.Append(new RecordBatchBuilder().Add(1, null, [1]).Add(2, null, [2]).Build());

        await _broker.SendAsync(_handler, new DeleteTopicsRequest { TopicNames = ["orders"] }, 5);
        var recreated = _broker.CreateTopic("orders");

        Assert.NotEqual(topic.Id, recreated.Id);
        Assert.Equal(0, _broker.Core.FindLog(recreated, 0)!.HighWatermark);
    }

    [Fact]
    public async Task Unknown_names_and_ids_get_their_own_errors()
    {
        var byName = await _broker.SendAsync(_handler, new DeleteTopicsRequest { TopicNames = ["missing"] }, 5);
        var unknownId = Guid.NewGuid();
        var byId = await _broker.SendAsync(_handler, new DeleteTopicsRequest { Topics = [new DeleteTopicsRequest.DeleteTopicState { TopicId = unknownId }] }, 6);

        Assert.Equal(("missing", (short)ErrorCode.UnknownTopicOrPartition), (byName.Responses[0].Name, byName.Responses[0].ErrorCode));
        Assert.Equal((null, unknownId, (short)ErrorCode.UnknownTopicId), (byId.Responses[0].Name, byId.Responses[0].TopicId, byId.Responses[0].ErrorCode));
    }

    [Fact]
    public async Task Deletion_disabled_keeps_every_topic()
    {
        using var broker = new TestBroker("delete.topic.enable=false");
        broker.CreateTopic("orders");
        broker.CreateTopic("payments");

        var response = await broker.SendAsync(new DeleteTopicsHandler(broker.Core), new DeleteTopicsRequest { TopicNames = ["orders", "payments"] }, 5);

        Assert.All(response.Responses, r => Assert.Equal((short)ErrorCode.TopicDeletionDisabled, r.ErrorCode));
        Assert.Equal(2, broker.Core.Metadata.Topics.Count);
    }

    [Fact]
    public async Task Naming_a_topic_both_ways_or_twice_is_an_invalid_request()
    {
        var topic = _broker.CreateTopic("orders");
        _broker.CreateTopic("payments");
        var request = new DeleteTopicsRequest
        {
            Topics =
            [
                new DeleteTopicsRequest.DeleteTopicState { Name = "orders", TopicId = topic.Id },
                new DeleteTopicsRequest.DeleteTopicState { Name = "payments" },
                new DeleteTopicsRequest.DeleteTopicState { Name = "payments" },
            ],
        };

        var response = await _broker.SendAsync(_handler, request, 6);

        Assert.Equal([(short)ErrorCode.InvalidRequest, (short)ErrorCode.InvalidRequest], response.Responses.Select(r => r.ErrorCode));
        Assert.Equal(2, _broker.Core.Metadata.Topics.Count);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(6)]
    public void The_error_response_answers_every_topic(short version)
    {
        var request = version >= 6
            ? new DeleteTopicsRequest { Topics = [new DeleteTopicsRequest.DeleteTopicState { Name = "a" }, new DeleteTopicsRequest.DeleteTopicState { Name = "b" }] }
            : new DeleteTopicsRequest { TopicNames = ["a", "b"] };

        var response = _broker.ErrorResponse(_handler, request, version, ErrorCode.NotController);

        Assert.Equal([("a", (short)ErrorCode.NotController), ("b", (short)ErrorCode.NotController)], response.Responses.Select(r => (r.Name, r.ErrorCode)));
    }

    // A long wait shows the deletion wakes the fetch; a short one that the fetch's read after any wake finds the topic gone.
    [Theory]
    [InlineData(12, 30_000)]
    [InlineData(13, 30_000)]
    [InlineData(12, 200)]
    [InlineData(13, 200)]
    public async Task A_fetch_waiting_on_a_deleted_topic_wakes_and_answers_that_the_topic_is_unknown(short version, int maxWaitMs)
    {
        var topic = _broker.CreateTopic("orders", 2);
        var request = new FetchRequest { MaxWaitMs = maxWaitMs, MinBytes = 1, MaxBytes = 1 << 20, SessionEpoch = -1 };
        request.Topics.Add(new FetchRequest.FetchTopic
        {
            Topic = "orders",
            TopicId = topic.Id,
            Partitions = [new FetchRequest.FetchPartition { Partition = 0, PartitionMaxBytes = 1 << 20 }, new FetchRequest.FetchPartition { Partition = 1, PartitionMaxBytes = 1 << 20 }],
        });
        var waiting = _broker.SendAsync(new FetchHandler(_broker.Core), request, version);
        Assert.False(waiting.IsCompleted); // parked: nothing to read yet

        Assert.True(_broker.Core.DeleteTopic("orders"));

        // Answered (long before a 30 s wait) with an error a consumer understands rather than UNKNOWN_SERVER_ERROR.
        var response = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        var expected = version >= 13 ? ErrorCode.UnknownTopicId : ErrorCode.UnknownTopicOrPartition;
        Assert.Equal((short)ErrorCode.None, response.ErrorCode);
        Assert.All(Assert.Single(response.Responses).Partitions, p => Assert.Equal((short)expected, p.ErrorCode));
    }
}
