using System.CommandLine;
using System.Net.Sockets;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;

namespace Tributary.Cli.Commands;

/// <summary>What <c>produce</c> and <c>consume</c> share: the <c>--bootstrap</c> option, the topic lookup, and turning failures into one line on stderr.</summary>
internal static class WireCommand
{
    public const short MetadataVersion = 12;
    public const short ListOffsetsVersion = 7;
    public const long EarliestTimestamp = -2;
    public const long LatestTimestamp = -1;

    /// <summary>Exit code of a command that ran and failed (parse errors exit with 2).</summary>
    public const int FailedExitCode = 1;

    /// <summary>Restricts an option to <paramref name="values"/>, with a one-line error naming them.</summary>
    public static void AcceptOnly(Option<string> option, params string[] values)
    {
        option.CompletionSources.Add(values);
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string>();
            if (!values.Contains(value, StringComparer.Ordinal))
            {
                result.AddError($"{option.Name} '{value}' is not one of {string.Join(", ", values)}");
            }
        });
    }

    /// <summary>Runs a command's body; failures the user can act on become one line on stderr and exit code 1.</summary>
    public static async Task<int> RunAsync(string command, Func<Task<int>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (CommandFailedException e)
        {
            return Fail(command, e.Message);
        }
        catch (CliException e)
        {
            return Fail(command, e.Message);
        }
        catch (SocketException e)
        {
            return Fail(command, $"cannot reach the broker: {e.Message}");
        }
        catch (EndOfStreamException)
        {
            return Fail(command, "the broker closed the connection");
        }
        catch (ProtocolException e)
        {
            return Fail(command, $"unreadable response: {e.Reason}");
        }
        catch (IOException e)
        {
            return Fail(command, e.Message);
        }
    }

    public static int Fail(string command, string message)
    {
        Console.Error.WriteLine($"tributary {command}: {message}");
        return FailedExitCode;
    }

    /// <summary>
    /// The topic's metadata. <paramref name="allowAutoCreate"/> asks the broker to create a missing topic as a producer
    /// does (it still obeys auto.create.topics.enable); a consumer never creates one.
    /// </summary>
    public static async Task<MetadataResponse.MetadataResponseTopic> TopicAsync(KafkaWireClient client, string topic, bool allowAutoCreate, CancellationToken cancellationToken)
    {
        // A topic created by this very request may report LEADER_NOT_AVAILABLE for a moment.
        const int AttemptsMax = 20;
        for (var attempt = 1; ; attempt++)
        {
            var request = new MetadataRequest { Topics = [new MetadataRequest.MetadataRequestTopic { Name = topic }], AllowAutoTopicCreation = allowAutoCreate };
            var response = await client.SendAsync<MetadataRequest, MetadataResponse>(ApiKey.Metadata, MetadataVersion, request, cancellationToken).ConfigureAwait(false);
            var found = response.Topics.Single();
            var error = (ErrorCode)found.ErrorCode;
            if (error == ErrorCode.None && found.Partitions.Count > 0)
            {
                return found;
            }

            if (error is ErrorCode.UnknownTopicOrPartition or ErrorCode.InvalidTopicException or ErrorCode.TopicAuthorizationFailed || attempt == AttemptsMax)
            {
                throw new CommandFailedException(error == ErrorCode.UnknownTopicOrPartition ? $"topic '{topic}' does not exist" : $"topic '{topic}': {error}");
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>ListOffsets for each partition at <paramref name="timestamp"/> (-2 earliest, -1 latest, else the first offset at or after it; -1 when none).</summary>
    public static async Task<Dictionary<int, long>> OffsetsAsync(KafkaWireClient client, string topic, IEnumerable<int> partitions, long timestamp, sbyte isolationLevel, CancellationToken cancellationToken)
    {
        var request = new ListOffsetsRequest
        {
            ReplicaId = -1,
            IsolationLevel = isolationLevel,
            Topics = [new ListOffsetsRequest.ListOffsetsTopic { Name = topic, Partitions = [.. partitions.Select(p => new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = p, Timestamp = timestamp })] }],
        };
        var response = await client.SendAsync<ListOffsetsRequest, ListOffsetsResponse>(ApiKey.ListOffsets, ListOffsetsVersion, request, cancellationToken).ConfigureAwait(false);
        var offsets = new Dictionary<int, long>();
        foreach (var partition in response.Topics.SelectMany(t => t.Partitions))
        {
            if (partition.ErrorCode != 0)
            {
                throw new CommandFailedException($"listing offsets of {topic}-{partition.PartitionIndex}: {(ErrorCode)partition.ErrorCode}");
            }

            offsets[partition.PartitionIndex] = partition.Offset;
        }

        return offsets;
    }
}
