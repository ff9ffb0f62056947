using Tributary.Broker.Config;
using Tributary.Broker.Handlers;
using Tributary.Broker.Metadata;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests;

/// <summary>
/// Named limits of ARCHITECTURE.md's table that hold whatever a request asks, each proved in its own unit: how long a
/// fetch parks (ms, on a manual clock), how many record bytes one fetch response carries, how long a topic name is.
/// </summary>
public sealed class LimitTests
{
    [Fact]
    public async Task A_fetch_asking_to_wait_for_ever_parks_FetchWaitMsMax_at_most()
    {
        var time = new ManualTimeProvider();
        using var broker = new TestBroker(new BrokerConfig(), time);
        broker.CreateTopic("quiet");
        var waiting = broker.SendAsync(new FetchHandler(broker.Core), Fetch("quiet", 1, maxWaitMs: int.MaxValue, minBytes: 1), 12);

        time.Advance(TimeSpan.FromMilliseconds(FetchHandler.FetchWaitMsMax - 1));
        Assert.False(waiting.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));

        var response = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        var partition = Assert.Single(Assert.Single(response.Responses).Partitions);
        Assert.Equal((short)ErrorCode.None, partition.ErrorCode);
        Assert.True(partition.Records is null or { Length: 0 });
    }

    [Fact]
    public async Task A_fetch_response_carries_ResponseBytesMax_record_bytes_at_most_whatever_max_bytes_asks()
    {
        using var broker = new TestBroker();
        var topic = broker.CreateTopic("wide", 3);
        var value = new string('x', 1_000_000);
        const int BatchesPerPartition = 24; // 3 × 24 batches of about 1 MB: more than one response may carry
        for (var p = 0; p < topic.PartitionCount; p++)
        {
            var log = broker.Core.FindLog(topic, p)!;
            for (var i = 0; i < BatchesPerPartition; i++)
            {
                log.Append(TestBroker.Batch(value));
            }
        }

        var response = await broker.SendAsync(new FetchHandler(broker.Core), Fetch("wide", topic.PartitionCount, maxWaitMs: 0, minBytes: 0), 12);

        var recordBytes = response.Responses.SelectMany(t => t.Partitions).Sum(p => (long)(p.Records?.Length ?? 0));
        Assert.InRange(recordBytes, FetchHandler.ResponseBytesMax - 2_000_000, FetchHandler.ResponseBytesMax);
    }

    [Fact]
    public async Task A_topic_name_of_TopicNameLengthMax_characters_is_created_on_disk_and_one_more_is_refused()
    {
        var directory = Path.Combine(Path.GetTempPath(), "tributary-limit-tests", Guid.NewGuid().ToString("N"));
        try
        {
            using var broker = TestBroker.OnDisk(directory);
            var handler = new CreateTopicsHandler(broker.Core);
            var longest = new string('n', MetadataStore.TopicNameLengthMax);
            var tooLong = longest + "n";

            var response = await broker.SendAsync(handler, new CreateTopicsRequest
            {
                Topics = [.. new[] { longest, tooLong }.Select(name => new CreateTopicsRequest.CreatableTopic { Name = name, NumPartitions = 2, ReplicationFactor = 1 })],
            }, 7);

            Assert.Equal([(longest, (short)ErrorCode.None), (tooLong, (short)ErrorCode.InvalidTopicException)], response.Topics.Select(t => (t.Name, t.ErrorCode)));
            var created = broker.Topic(longest);
            Assert.Equal(0, broker.Core.FindLog(created, 1)!.Append(TestBroker.Batch("fits")).FirstOffset);
            Assert.Null(broker.Core.Metadata.Find(tooLong));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static FetchRequest Fetch(string topic, int partitions, int maxWaitMs, int minBytes) => new()
    {
        MaxWaitMs = maxWaitMs,
        MinBytes = minBytes,
        MaxBytes = int.MaxValue,
        SessionEpoch = -1,
        Topics =
        [
            new FetchRequest.FetchTopic
            {
                Topic = topic,
                Partitions = [.. Enumerable.Range(0, partitions).Select(p => new FetchRequest.FetchPartition { Partition = p, PartitionMaxBytes = int.MaxValue })],
            },
        ],
    };
}
