using System.CommandLine;
using Tributary.Cli.Connection;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;

namespace Tributary.Cli.Commands;

/// <summary>What the admin commands share: the connection, the request versions they speak, turning Kafka error codes into one-line failures.</summary>
internal static class AdminClient
{
    // Versions every broker of this codebase serves.
    public const short MetadataVersion = 12;
    public const short ListOffsetsVersion = 7;
    public const long LatestTimestamp = -1;
    public const long EarliestTimestamp = -2;

    public static Task<KafkaWireClient> ConnectAsync(ParseResult parse, CancellationToken cancellationToken) =>
        BrokerConnection.ConnectAsync(parse.GetValue(CommonOptions.Bootstrap) ?? CommonOptions.DefaultBootstrap, CommonOptions.Security(parse), cancellationToken);

    /// <summary>Throws a <see cref="CliException"/> "<paramref name="what"/>: ERROR (message)" unless the code is 0.</summary>
    public static void Check(short errorCode, string? message, string what)
    {
        if (errorCode != 0)
        {
            throw new CliException($"{what}: {Describe(errorCode, message)}");
        }
    }

    public static string Describe(short errorCode, string? message) =>
        string.IsNullOrEmpty(message) ? ((ErrorCode)errorCode).ToString() : $"{(ErrorCode)errorCode} ({message})";

    /// <summary>
    /// One topic's metadata, asked with allow_auto_topic_creation=false so that looking a topic up never creates it,
    /// whatever auto.create.topics.enable says; a missing topic is an error naming it.
    /// </summary>
    public static async Task<MetadataResponse.MetadataResponseTopic> TopicAsync(KafkaWireClient client, string name, CancellationToken cancellationToken)
    {
        var request = new MetadataRequest { Topics = [new MetadataRequest.MetadataRequestTopic { Name = name }], AllowAutoTopicCreation = false };
        var response = await client.SendAsync<MetadataRequest, MetadataResponse>(ApiKey.Metadata, MetadataVersion, request, cancellationToken).ConfigureAwait(false);
        var topic = response.Topics[0];
        if (topic.ErrorCode == (short)ErrorCode.UnknownTopicOrPartition)
        {
            throw new CliException($"topic '{name}' does not exist");
        }

        Check(topic.ErrorCode, null, $"topic '{name}'");
        return topic;
    }

    /// <summary>The offset ListOffsets answers for each partition at <paramref name="timestamp"/> (-1 latest, -2 earliest); partitions in error are left out.</summary>
    public static async Task<Dictionary<(string Topic, int Partition), long>> OffsetsAsync(KafkaWireClient client, IEnumerable<(string Topic, int Partition)> partitions, long timestamp, CancellationToken cancellationToken)
    {
        var offsets = new Dictionary<(string Topic, int Partition), long>();
        var topics = partitions.GroupBy(p => p.Topic).Select(t => new ListOffsetsRequest.ListOffsetsTopic
        {
            Name = t.Key,
            Partitions = [.. t.Select(p => new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = p.Partition, Timestamp = timestamp })],
        }).ToList();
        if (topics.Count == 0)
        {
            return offsets;
        }

        var request = new ListOffsetsRequest { ReplicaId = -1, Topics = topics };
        var response = await client.SendAsync<ListOffsetsRequest, ListOffsetsResponse>(ApiKey.ListOffsets, ListOffsetsVersion, request, cancellationToken).ConfigureAwait(false);
        foreach (var topic in response.Topics)
        {
            foreach (var p in topic.Partitions.Where(p => p.ErrorCode == 0))
            {
                offsets[(topic.Name, p.PartitionIndex)] = p.Offset;
            }
        }

        return offsets;
    }
}
