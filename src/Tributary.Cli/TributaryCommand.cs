using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Tributary.Broker.Config;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server;
using Tributary.Server.Client;

namespace Tributary.Cli;

/// <summary>The <c>tributary</c> command: <c>serve</c> (default), <c>topics create|list|describe|delete</c> and <c>groups list|describe</c>.</summary>
public static class TributaryCommand
{
    private const string Usage = """
        usage:
          tributary [serve] [--config FILE] [--set key=value]...     start the broker (default 127.0.0.1:9092, data in ./data)
          tributary topics list     [--bootstrap HOST:PORT]
          tributary topics create   NAME [--partitions N] [--config-entry key=value]... [--bootstrap HOST:PORT]
          tributary topics describe NAME [--bootstrap HOST:PORT]
          tributary topics delete   NAME [--bootstrap HOST:PORT]
          tributary groups list     [--bootstrap HOST:PORT]                each group's type (classic, consumer, share) and state
          tributary produce TOPIC   [--file FILE] [--key-separator SEP] ...  records from stdin or a file (produce --help)
          tributary consume TOPIC   [--from beginning|end|OFFSET|TIME] ...  records to stdout (consume --help)
          tributary groups describe GROUP [--bootstrap HOST:PORT]       members, assignments, committed offsets, lag;
                                                                         for a share group start offsets, records done, lag
        configuration keys use Kafka's names (num.partitions, log.dirs, listeners, ...); TRIBUTARY_NUM_PARTITIONS=3 sets num.partitions.
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length > 0 && args[0] is "produce" or "consume")
        {
            return await RunWireCommandAsync(args).ConfigureAwait(false);
        }

        var positional = new List<string>();
        var options = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] is "-h" or "--help")
            {
                Console.WriteLine(Usage);
                return 0;
            }

            if (args[i].StartsWith("--", StringComparison.Ordinal))
            {
                if (i + 1 >= args.Length)
                {
                    return Fail($"{args[i]} needs a value");
                }

                if (!options.TryGetValue(args[i], out var list))
                {
                    options[args[i]] = list = [];
                }

                list.Add(args[++i]);
            }
            else
            {
                positional.Add(args[i]);
            }
        }

        string? Option(string name) => options.TryGetValue(name, out var v) ? v[^1] : null;
        var command = positional.Count > 0 ? positional[0] : "serve";
        try
        {
            return command switch
            {
                "serve" => await ServeAsync(Option("--config"), options.GetValueOrDefault("--set") ?? []).ConfigureAwait(false),
                "topics" => await TopicsAsync(positional.Skip(1).ToList(), Option("--bootstrap") ?? "127.0.0.1:9092", Option("--partitions"), options.GetValueOrDefault("--config-entry") ?? []).ConfigureAwait(false),
                "groups" => await GroupsCommand.RunAsync(positional.Skip(1).ToList(), Option("--bootstrap") ?? "127.0.0.1:9092").ConfigureAwait(false),
                _ => Fail($"unknown command '{command}'\n{Usage}"),
            };
        }
        catch (System.Net.Sockets.SocketException e)
        {
            return Fail($"cannot reach the broker: {e.Message}");
        }
        catch (EndOfStreamException)
        {
            return Fail("the broker closed the connection (it may not serve this request)");
        }
        catch (ProtocolException e)
        {
            return Fail($"unreadable response: {e.Reason}");
        }
    }

    // produce and consume are System.CommandLine commands; a parse error is one line, as for the other commands.
    private static async Task<int> RunWireCommandAsync(string[] args)
    {
        var parsed = new System.CommandLine.RootCommand { Commands.ProduceCommand.Create(), Commands.ConsumeCommand.Create() }.Parse(args);
        return parsed.Errors.Count > 0 ? Fail(parsed.Errors[0].Message) : await parsed.InvokeAsync().ConfigureAwait(false);
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"tributary: {message}");
        return 2;
    }

    private static async Task<int> ServeAsync(string? configFile, List<string> sets)
    {
        var (pairs, errors) = ConfigSources.Gather(configFile, sets, Environment.GetEnvironmentVariables());
        var (config, configErrors) = BrokerConfig.Parse(pairs);
        errors.AddRange(configErrors);
        if (config is null || errors.Count > 0)
        {
            foreach (var e in errors)
            {
                Console.Error.WriteLine($"tributary: {e}");
            }

            return 2;
        }

        using var loggerFactory = LoggerFactory.Create(b => b
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            })
            .SetMinimumLevel(LogLevel.Information));
        var logger = loggerFactory.CreateLogger("Tributary");
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c =>
        {
            c.Cancel = true;
            stopped.TrySetResult();
        });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stopped.TrySetResult();
        });

        TributaryBroker started;
        try
        {
            started = await TributaryBroker.StartAsync(config, loggerFactory).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            // A data directory another broker holds, a port already taken, an unwritable disk, an unreadable metadata
            // snapshot: say which, no stack trace.
            var reason = e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException
                ? $"cannot listen on {config.ListenerHost}:{config.ListenerPort}: the address is already in use"
                : e.Message;
            logger.LogCritical("Not started: {Reason}", reason);
            return 1;
        }

        await using var broker = started;
        logger.LogInformation("Tributary listening on {Bootstrap} (data: {Data})", broker.BootstrapServers, config.InMemoryStorage ? "in memory" : Path.GetFullPath(config.LogDir));
        await stopped.Task.ConfigureAwait(false);
        logger.LogInformation("Stopping");
        await broker.StopAsync().ConfigureAwait(false);
        logger.LogInformation("Stopped cleanly");
        return 0;
    }

    private static async Task<int> TopicsAsync(List<string> args, string bootstrap, string? partitions, List<string> configEntries)
    {
        var verb = args.Count > 0 ? args[0] : "list";
        var name = args.Count > 1 ? args[1] : null;
        await using var client = await KafkaWireClient.ConnectAsync(bootstrap).ConfigureAwait(false);
        switch (verb)
        {
            case "list":
                var all = await client.SendAsync<MetadataRequest, MetadataResponse>(ApiKey.Metadata, 12, new MetadataRequest { Topics = null }).ConfigureAwait(false);
                foreach (var t in all.Topics.OrderBy(t => t.Name, StringComparer.Ordinal))
                {
                    Console.WriteLine(t.Name);
                }

                return 0;
            case "create" when name is not null:
                var request = new CreateTopicsRequest
                {
                    TimeoutMs = 30_000,
                    Topics =
                    [
                        new CreateTopicsRequest.CreatableTopic
                        {
                            Name = name,
                            NumPartitions = partitions is null ? -1 : int.Parse(partitions, CultureInfo.InvariantCulture),
                            ReplicationFactor = -1,
                            Configs = [.. configEntries.Select(c => c.Split('=', 2)).Select(kv => new CreateTopicsRequest.CreatableTopicConfig { Name = kv[0], Value = kv.Length > 1 ? kv[1] : null })],
                        },
                    ],
                };
                var created = await client.SendAsync<CreateTopicsRequest, CreateTopicsResponse>(ApiKey.CreateTopics, 7, request).ConfigureAwait(false);
                var result = created.Topics[0];
                if (result.ErrorCode != 0)
                {
                    return Fail($"{(ErrorCode)result.ErrorCode}: {result.ErrorMessage}");
                }

                Console.WriteLine($"created {name} with {result.NumPartitions} partitions (id {result.TopicId})");
                return 0;
            case "describe" when name is not null:
                // Describing must not create the topic, whatever auto.create.topics.enable says.
                var metadata = await client.SendAsync<MetadataRequest, MetadataResponse>(ApiKey.Metadata, 12, new MetadataRequest { Topics = [new MetadataRequest.MetadataRequestTopic { Name = name }], AllowAutoTopicCreation = false }).ConfigureAwait(false);
                var topic = metadata.Topics[0];
                if (topic.ErrorCode != 0)
                {
                    return TopicFail(name, (ErrorCode)topic.ErrorCode);
                }

                var earliest = await OffsetsAsync(client, name, topic.Partitions.Count, -2).ConfigureAwait(false);
                var latest = await OffsetsAsync(client, name, topic.Partitions.Count, -1).ConfigureAwait(false);
                Console.WriteLine($"topic {topic.Name} id {topic.TopicId} partitions {topic.Partitions.Count}");
                foreach (var p in topic.Partitions)
                {
                    Console.WriteLine($"  partition {p.PartitionIndex}: leader {p.LeaderId}, offsets {earliest[p.PartitionIndex]}..{latest[p.PartitionIndex]}");
                }

                return 0;
            case "delete" when name is not null:
                var deleted = await client.SendAsync<DeleteTopicsRequest, DeleteTopicsResponse>(ApiKey.DeleteTopics, 6, new DeleteTopicsRequest { TimeoutMs = 30_000, Topics = [new DeleteTopicsRequest.DeleteTopicState { Name = name }] }).ConfigureAwait(false);
                var code = deleted.Responses[0].ErrorCode;
                if (code != 0)
                {
                    return TopicFail(name, (ErrorCode)code);
                }

                Console.WriteLine($"deleted {name}");
                return 0;
            default:
                return Fail($"topics {verb}: missing or unknown arguments\n{Usage}");
        }
    }

    private static int TopicFail(string name, ErrorCode error) =>
        Fail(error == ErrorCode.UnknownTopicOrPartition ? $"topic '{name}' does not exist" : $"topic '{name}': {error}");

    private static async Task<Dictionary<int, long>> OffsetsAsync(KafkaWireClient client, string topic, int partitions, long timestamp)
    {
        var request = new ListOffsetsRequest
        {
            ReplicaId = -1,
            Topics = [new ListOffsetsRequest.ListOffsetsTopic { Name = topic, Partitions = [.. Enumerable.Range(0, partitions).Select(p => new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = p, Timestamp = timestamp })] }],
        };
        var response = await client.SendAsync<ListOffsetsRequest, ListOffsetsResponse>(ApiKey.ListOffsets, 7, request).ConfigureAwait(false);
        return response.Topics[0].Partitions.ToDictionary(p => p.PartitionIndex, p => p.Offset);
    }
}
