using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Server.Client;

namespace Tributary.Server.Tests;

/// <summary>Produce one record and fetch it back over a real socket, with the project's own wire client.</summary>
internal static class WireRoundTrip
{
    public static async Task<ProduceResponse> ProduceAsync(KafkaWireClient client, string topic, int partition, string value)
    {
        var builder = new RecordBatchBuilder();
        builder.Add(1_700_000_000_000, "k"u8.ToArray(), System.Text.Encoding.UTF8.GetBytes(value), null);
        var request = new ProduceRequest
        {
            Acks = -1,
            TimeoutMs = 10_000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = partition, Records = builder.Build() }] }],
        };
        return await client.SendAsync<ProduceRequest, ProduceResponse>(ApiKey.Produce, 9, request);
    }

    /// <summary>A consumer's fetch of one partition from <paramref name="offset"/>, waiting up to <paramref name="maxWaitMs"/> for one byte.</summary>
    public static FetchRequest Fetch(string topic, int partition, long offset, int maxWaitMs = 100, int maxBytes = 1024 * 1024) => new()
    {
        ReplicaId = -1,
        MaxWaitMs = maxWaitMs,
        MinBytes = 1,
        MaxBytes = maxBytes,
        SessionEpoch = -1,
        Topics = [new FetchRequest.FetchTopic { Topic = topic, Partitions = [new FetchRequest.FetchPartition { Partition = partition, FetchOffset = offset, PartitionMaxBytes = maxBytes, LogStartOffset = -1 }] }],
    };

    public static async Task<List<string>> FetchValuesAsync(KafkaWireClient client, string topic, int partition, long offset)
    {
        var request = Fetch(topic, partition, offset);
        var response = await client.SendAsync<FetchRequest, FetchResponse>(ApiKey.Fetch, 12, request);
        var data = response.Responses[0].Partitions[0];
        Assert.Equal(0, data.ErrorCode);
        var values = new List<string>();
        var records = data.Records ?? ReadOnlyMemory<byte>.Empty;
        var position = 0;
        while (position < records.Length)
        {
            var batch = RecordBatch.Read(records[position..]);
            foreach (var record in batch.Records)
            {
                values.Add(System.Text.Encoding.UTF8.GetString(record.Value!.Value.Span));
            }

            position += batch.Header.TotalSize;
        }

        return values;
    }
}
