using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.LoadRunner;

/// <summary>Set-up calls made before the clock starts: create the topic, read where its partitions end.</summary>
internal static class TopicAdmin
{
    private const short CreateTopicsVersion = 5;
    private const short ListOffsetsVersion = 7;

    /// <summary>Kafka's ListOffsets timestamp for "the log end offset".</summary>
    private const long LatestTimestamp = -1;

    /// <summary>Creates the topic; one that already exists is accepted as it is.</summary>
    public static void CreateTopic(LoadOptions options)
    {
        using var connection = KafkaConnection.Connect(options.Host, options.Port);
        var request = new CreateTopicsRequest
        {
            TimeoutMs = 10_000,
            Topics = [new CreateTopicsRequest.CreatableTopic { Name = options.Topic, NumPartitions = options.Partitions, ReplicationFactor = 1 }],
        };
        var response = connection.Call<CreateTopicsRequest, CreateTopicsResponse>(ApiKey.CreateTopics, CreateTopicsVersion, request);
        var result = response.Topics.Single();
        if (result.ErrorCode != 0 && result.ErrorCode != (short)ErrorCode.TopicAlreadyExists)
        {
            throw new InvalidOperationException($"CreateTopics {options.Topic}: error {(ErrorCode)result.ErrorCode} {result.ErrorMessage}");
        }
    }

    /// <summary>The log end offset of every partition, indexed by partition.</summary>
    public static long[] EndOffsets(LoadOptions options)
    {
        using var connection = KafkaConnection.Connect(options.Host, options.Port);
        var request = new ListOffsetsRequest
        {
            ReplicaId = -1,
            Topics =
            [
                new ListOffsetsRequest.ListOffsetsTopic
                {
                    Name = options.Topic,
                    Partitions = [.. Enumerable.Range(0, options.Partitions).Select(p => new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = p, Timestamp = LatestTimestamp })],
                },
            ],
        };
        var response = connection.Call<ListOffsetsRequest, ListOffsetsResponse>(ApiKey.ListOffsets, ListOffsetsVersion, request);
        var offsets = new long[options.Partitions];
        foreach (var partition in response.Topics.Single().Partitions)
        {
            if (partition.ErrorCode != 0)
            {
                throw new InvalidOperationException($"ListOffsets {options.Topic}-{partition.PartitionIndex}: error {(ErrorCode)partition.ErrorCode}");
            }

            offsets[partition.PartitionIndex] = partition.Offset;
        }

        return offsets;
    }
}
