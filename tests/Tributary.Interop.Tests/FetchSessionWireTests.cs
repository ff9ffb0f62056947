using System.Text;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Server;
using Tributary.Server.Client;

namespace Tributary.Interop.Tests;

/// <summary>
/// Fetch sessions (KIP-227) over a real socket, driven request by request as the Java consumer does (librdkafka 2.x
/// and kafkajs send session-less fetches, which the Confluent.Kafka and kafkajs tests cover): a FULL fetch opens a
/// session, incremental fetches list only changed offsets and get only partitions with news, a parked incremental
/// fetch wakes on an append to a partition it did not list, and a FINAL fetch closes the session.
/// </summary>
public sealed class FetchSessionWireTests
{
    private const string Topic = "sessions";
    private const int Partitions = 8;
    private const short FetchVersion = 12;

    [Fact]
    public async Task A_full_fetch_then_incremental_fetches_read_every_record_once_and_only_news()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { Topics = { [Topic] = Partitions } });
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        for (var p = 0; p < Partitions; p++)
        {
            await ProduceAsync(client, p, $"first-{p}");
        }

        var full = await FetchAsync(client, 0, 0, [.. Enumerable.Range(0, Partitions).Select(p => (p, 0L))]);
        Assert.Equal(0, full.ErrorCode);
        Assert.NotEqual(0, full.SessionId);
        Assert.Equal(Enumerable.Range(0, Partitions).Select(p => $"first-{p}"), full.Responses.SelectMany(t => t.Partitions).Select(Value));

        // Every offset moved on by one: the incremental request lists all of them, and nothing is new.
        var caughtUp = await FetchAsync(client, full.SessionId, 1, [.. Enumerable.Range(0, Partitions).Select(p => (p, 1L))]);
        Assert.Equal(full.SessionId, caughtUp.SessionId);
        Assert.Empty(caughtUp.Responses);

        // A fetch listing nothing parks on all eight partitions and wakes for partition 5's record.
        var parked = FetchAsync(client, full.SessionId, 2, [], minBytes: 1, maxWaitMs: 30_000);
        await using (var producer = await KafkaWireClient.ConnectAsync(broker.BootstrapServers))
        {
            await ProduceAsync(producer, 5, "second-5");
        }

        var woken = await parked.WaitAsync(TimeSpan.FromSeconds(20));
        var news = Assert.Single(Assert.Single(woken.Responses).Partitions);
        Assert.Equal(5, news.PartitionIndex);
        Assert.Equal("second-5", Value(news));

        var closed = await FetchAsync(client, full.SessionId, -1, [(5, 2)]);
        Assert.Equal(0, closed.SessionId);
        Assert.Equal(0, Assert.Single(Assert.Single(closed.Responses).Partitions).Records!.Value.Length);
        var gone = await FetchAsync(client, full.SessionId, 3, []);
        Assert.Equal(ErrorCode.FetchSessionIdNotFound, (ErrorCode)gone.ErrorCode);
        Assert.Equal(0, broker.Core.FetchSessions.Count);
    }

    private static async Task ProduceAsync(KafkaWireClient client, int partition, string value)
    {
        var batch = new RecordBatchBuilder();
        batch.Add(1_700_000_000_000, null, Encoding.UTF8.GetBytes(value));
        var response = await client.SendAsync<ProduceRequest, ProduceResponse>(ApiKey.Produce, 9, new ProduceRequest
        {
            Acks = -1,
            TimeoutMs = 10_000,
            TopicData = [new ProduceRequest.TopicProduceData
            {
                Name = Topic,
                PartitionData = [new ProduceRequest.PartitionProduceData { Index = partition, Records = batch.Build() }],
            }],
        });
        Assert.Equal(0, response.Responses[0].PartitionResponses[0].ErrorCode);
    }

    private static Task<FetchResponse> FetchAsync(KafkaWireClient client, int sessionId, int epoch, (int Partition, long Offset)[] partitions, int minBytes = 0, int maxWaitMs = 0) =>
        client.SendAsync<FetchRequest, FetchResponse>(ApiKey.Fetch, FetchVersion, new FetchRequest
        {
            MinBytes = minBytes,
            MaxWaitMs = maxWaitMs,
            MaxBytes = 1024 * 1024,
            SessionId = sessionId,
            SessionEpoch = epoch,
            Topics = partitions.Length == 0 ? [] : [new FetchRequest.FetchTopic
            {
                Topic = Topic,
                Partitions = [.. partitions.Select(p => new FetchRequest.FetchPartition { Partition = p.Partition, FetchOffset = p.Offset, PartitionMaxBytes = 64 * 1024 })],
            }],
        });

    /// <summary>The value of the one record a partition returned (each produce above sends one batch of one record).</summary>
    private static string Value(FetchResponse.PartitionData partition)
    {
        Assert.Equal(0, partition.ErrorCode);
        var batch = RecordBatch.Read(partition.Records!.Value);
        Assert.Equal(partition.Records!.Value.Length, batch.Bytes.Length);
        var values = new List<string>();
        foreach (var record in batch.Records)
        {
            values.Add(Encoding.UTF8.GetString(record.Value!.Value.Span));
        }

        return Assert.Single(values);
    }
}
