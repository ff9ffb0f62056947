using System.CommandLine;
using System.Globalization;
using Tributary.Cli.Output;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;

namespace Tributary.Cli.Commands;

/// <summary>
/// <c>tributary topics list|create|describe|alter|delete|add-partitions</c>: what <c>kafka-topics.sh</c> and
/// <c>kafka-configs.sh --entity-type topics</c> do. Every command that names an existing topic looks it up first with
/// Metadata allow_auto_topic_creation=false, so a misspelt name is an error and never a new topic.
/// </summary>
internal static class TopicsCommand
{
    private const short CreateTopicsVersion = 7;
    private const short DeleteTopicsVersion = 6;
    private const short DescribeConfigsVersion = 4;
    private const short IncrementalAlterConfigsVersion = 1;
    private const short CreatePartitionsVersion = 3;
    private const short DescribeLogDirsVersion = 4;
    private const sbyte TopicResource = 2;
    private const sbyte SetOperation = 0;
    private const sbyte DeleteOperation = 1;
    private const int TimeoutMs = 30_000;

    private static readonly Argument<string> Name = new("topic") { Description = "The topic's name" };

    public static Command Create()
    {
        var topics = new Command("topics", """
            List, create, describe, alter and delete topics.

            Examples:
              tributary topics list
              tributary topics create orders --partitions 4 --config retention.ms=86400000
              tributary topics describe orders --output json
            """);
        topics.Add(List());
        topics.Add(CreateTopic());
        topics.Add(Describe());
        topics.Add(Alter());
        topics.Add(Delete());
        topics.Add(AddPartitions());
        return topics;
    }

    private static Command List()
    {
        var command = new Command("list", """
            List the topics: their names, one a line, when redirected; a table of names, partitions and topic ids on a terminal.

            Examples:
              tributary topics list
              tributary topics list --output json --bootstrap broker:9092
            """);
        CommonOptions.AddReadOptions(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = CliOutput.For(parse.GetValue(CommonOptions.Output));
            await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
            var response = await client.SendAsync<MetadataRequest, MetadataResponse>(ApiKey.Metadata, AdminClient.MetadataVersion, new MetadataRequest { Topics = null, AllowAutoTopicCreation = false }, cancellationToken).ConfigureAwait(false);
            var topics = response.Topics
                .Where(t => t.ErrorCode == 0 && t.Name is not null)
                .OrderBy(t => t.Name, StringComparer.Ordinal)
                .Select(t => new TopicListing(t.Name!, t.TopicId, t.Partitions.Count, t.IsInternal))
                .ToList();
            if (output.IsJson)
            {
                CliOutput.Json(topics, CliJsonContext.Default.ListTopicListing);
            }
            else if (output.IsTerminal)
            {
                output.Table(["TOPIC", "PARTITIONS", "TOPIC-ID"], topics.Select(t => (IReadOnlyList<string>)[t.Name, Number(t.Partitions), t.TopicId.ToString()]));
            }
            else
            {
                // Names only, as kafka-topics.sh --list prints them: `topics list | grep -x orders` works.
                foreach (var t in topics)
                {
                    output.Line(t.Name);
                }
            }

            return 0;
        });
        return command;
    }

    private static Command CreateTopic()
    {
        var partitions = CommonOptions.Int32("--partitions", "Number of partitions (default: the broker's num.partitions)", 1);
        var replicationFactor = CommonOptions.Int32("--replication-factor", "Replicas of each partition (default: the broker's default.replication.factor)", 1);
        var configs = CommonOptions.KeyValues("--config", "A topic configuration, repeatable: --config cleanup.policy=compact", "--config-entry");
        var command = new Command("create", """
            Create a topic.

            Examples:
              tributary topics create orders --partitions 4
              tributary topics create users --config cleanup.policy=compact --config min.compaction.lag.ms=60000
            """)
        {
            Name, partitions, replicationFactor, configs, CommonOptions.Bootstrap, CommonOptions.CommandConfig,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var name = parse.GetRequiredValue(Name);
            var request = new CreateTopicsRequest
            {
                TimeoutMs = TimeoutMs,
                Topics =
                [
                    new CreateTopicsRequest.CreatableTopic
                    {
                        Name = name,
                        NumPartitions = parse.GetResult(partitions) is null ? -1 : parse.GetValue(partitions),
                        ReplicationFactor = parse.GetResult(replicationFactor) is null ? (short)-1 : (short)Math.Min(parse.GetValue(replicationFactor), short.MaxValue),
                        Configs = [.. (parse.GetValue(configs) ?? []).Select(CommonOptions.Split).Select(kv => new CreateTopicsRequest.CreatableTopicConfig { Name = kv.Key, Value = kv.Value })],
                    },
                ],
            };
            await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
            var created = await client.SendAsync<CreateTopicsRequest, CreateTopicsResponse>(ApiKey.CreateTopics, CreateTopicsVersion, request, cancellationToken).ConfigureAwait(false);
            var result = created.Topics[0];
            AdminClient.Check(result.ErrorCode, result.ErrorMessage, $"topic '{name}'");
            Console.WriteLine($"created {name} with {Number(result.NumPartitions)} partitions (id {result.TopicId})");
            return 0;
        });
        return command;
    }

    private static Command Describe()
    {
        var command = new Command("describe", """
            Show a topic: each partition's leader, replicas, in-sync replicas, log start and end offsets and size on
            disk, then every configuration with its source (DYNAMIC_TOPIC_CONFIG when set on the topic,
            STATIC_BROKER_CONFIG from the broker's configuration, DEFAULT_CONFIG otherwise).
            A missing topic is an error; describing never creates it.

            Examples:
              tributary topics describe orders
              tributary topics describe orders --output json
            """)
        {
            Name,
        };
        CommonOptions.AddReadOptions(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = CliOutput.For(parse.GetValue(CommonOptions.Output));
            await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
            var description = await DescribeAsync(client, parse.GetRequiredValue(Name), cancellationToken).ConfigureAwait(false);
            if (output.IsJson)
            {
                CliOutput.Json(description, CliJsonContext.Default.TopicDescription);
                return 0;
            }

            output.Line($"topic {description.Name}: id {description.TopicId}, {Number(description.Partitions.Count)} partitions{(description.Internal ? ", internal" : "")}");
            output.Table(
                ["PARTITION", "LEADER", "REPLICAS", "ISR", "LOG-START", "LOG-END", "SIZE"],
                description.Partitions.Select(p => (IReadOnlyList<string>)[Number(p.Partition), Number(p.Leader), Ids(p.Replicas), Ids(p.Isr), Number(p.LogStartOffset), Number(p.LogEndOffset), Number(p.SizeBytes)]));
            output.Line("");
            output.Table(
                ["CONFIG", "VALUE", "SOURCE"],
                description.Configs.Select(c => (IReadOnlyList<string>)[c.Name, c.Sensitive ? "(sensitive)" : c.Value ?? "(null)", c.Source]));
            return 0;
        });
        return command;
    }

    private static async Task<TopicDescription> DescribeAsync(KafkaWireClient client, string name, CancellationToken cancellationToken)
    {
        var topic = await AdminClient.TopicAsync(client, name, cancellationToken).ConfigureAwait(false);
        var partitions = topic.Partitions.OrderBy(p => p.PartitionIndex).ToList();
        var keys = partitions.Select(p => (name, p.PartitionIndex)).ToList();
        var earliest = await AdminClient.OffsetsAsync(client, keys, AdminClient.EarliestTimestamp, cancellationToken).ConfigureAwait(false);
        var latest = await AdminClient.OffsetsAsync(client, keys, AdminClient.LatestTimestamp, cancellationToken).ConfigureAwait(false);
        var sizes = await SizesAsync(client, name, partitions.Select(p => p.PartitionIndex).ToList(), cancellationToken).ConfigureAwait(false);

        var configsRequest = new DescribeConfigsRequest { Resources = [new DescribeConfigsRequest.DescribeConfigsResource { ResourceType = TopicResource, ResourceName = name, ConfigurationKeys = null }] };
        var configs = await client.SendAsync<DescribeConfigsRequest, DescribeConfigsResponse>(ApiKey.DescribeConfigs, DescribeConfigsVersion, configsRequest, cancellationToken).ConfigureAwait(false);
        var result = configs.Results[0];
        AdminClient.Check(result.ErrorCode, result.ErrorMessage, $"topic '{name}' configs");

        return new TopicDescription(
            name,
            topic.TopicId,
            topic.IsInternal,
            [.. partitions.Select(p => new PartitionDescription(
                p.PartitionIndex,
                p.LeaderId,
                p.ReplicaNodes,
                p.IsrNodes,
                earliest.GetValueOrDefault((name, p.PartitionIndex), -1),
                latest.GetValueOrDefault((name, p.PartitionIndex), -1),
                sizes.GetValueOrDefault(p.PartitionIndex, -1)))],
            [.. result.Configs.OrderBy(c => c.Name, StringComparer.Ordinal).Select(c => new ConfigDescription(c.Name, c.IsSensitive ? null : c.Value, SourceName(c.ConfigSource), c.ReadOnly, c.IsSensitive))]);
    }

    /// <summary>Each partition's size in bytes as DescribeLogDirs reports it, summed over the broker's log directories.</summary>
    private static async Task<Dictionary<int, long>> SizesAsync(KafkaWireClient client, string name, List<int> partitions, CancellationToken cancellationToken)
    {
        var request = new DescribeLogDirsRequest { Topics = [new DescribeLogDirsRequest.DescribableLogDirTopic { Topic = name, Partitions = partitions }] };
        var response = await client.SendAsync<DescribeLogDirsRequest, DescribeLogDirsResponse>(ApiKey.DescribeLogDirs, DescribeLogDirsVersion, request, cancellationToken).ConfigureAwait(false);
        var sizes = new Dictionary<int, long>();
        foreach (var partition in response.Results.Where(r => r.ErrorCode == 0).SelectMany(r => r.Topics).Where(t => t.Name == name).SelectMany(t => t.Partitions).Where(p => !p.IsFutureKey))
        {
            sizes[partition.PartitionIndex] = sizes.GetValueOrDefault(partition.PartitionIndex) + partition.PartitionSize;
        }

        return sizes;
    }

    private static Command Alter()
    {
        var add = CommonOptions.KeyValues("--add-config", "Set a topic configuration, repeatable: --add-config retention.ms=3600000");
        var delete = new Option<string[]>("--delete-config") { Description = "Remove a topic configuration (back to the broker's value), repeatable", HelpName = "KEY" };
        var command = new Command("alter", """
            Change a topic's configuration (IncrementalAlterConfigs): set some keys, remove others.
            A missing topic is an error; altering never creates it.

            Examples:
              tributary topics alter orders --add-config retention.ms=3600000
              tributary topics alter orders --delete-config retention.ms --add-config cleanup.policy=compact
            """)
        {
            Name, add, delete, CommonOptions.Bootstrap, CommonOptions.CommandConfig,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var name = parse.GetRequiredValue(Name);
            var changes = (parse.GetValue(add) ?? []).Select(CommonOptions.Split)
                .Select(kv => new IncrementalAlterConfigsRequest.AlterableConfig { Name = kv.Key, Value = kv.Value, ConfigOperation = SetOperation })
                .Concat((parse.GetValue(delete) ?? []).Select(k => new IncrementalAlterConfigsRequest.AlterableConfig { Name = k, Value = null, ConfigOperation = DeleteOperation }))
                .ToList();
            if (changes.Count == 0)
            {
                throw new UsageException("topics alter: give at least one --add-config or --delete-config");
            }

            await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
            await AdminClient.TopicAsync(client, name, cancellationToken).ConfigureAwait(false);
            var request = new IncrementalAlterConfigsRequest { Resources = [new IncrementalAlterConfigsRequest.AlterConfigsResource { ResourceType = TopicResource, ResourceName = name, Configs = changes }] };
            var response = await client.SendAsync<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse>(ApiKey.IncrementalAlterConfigs, IncrementalAlterConfigsVersion, request, cancellationToken).ConfigureAwait(false);
            var result = response.Responses[0];
            AdminClient.Check(result.ErrorCode, result.ErrorMessage, $"topic '{name}'");
            Console.WriteLine($"altered {name}: {string.Join(", ", changes.Select(c => c.ConfigOperation == SetOperation ? $"{c.Name}={c.Value}" : $"{c.Name} removed"))}");
            return 0;
        });
        return command;
    }

    private static Command Delete()
    {
        var command = new Command("delete", """
            Delete a topic and its data. A missing topic is an error.

            Example:
              tributary topics delete orders
            """)
        {
            Name, CommonOptions.Bootstrap, CommonOptions.CommandConfig,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var name = parse.GetRequiredValue(Name);
            await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
            await AdminClient.TopicAsync(client, name, cancellationToken).ConfigureAwait(false);
            var request = new DeleteTopicsRequest { TimeoutMs = TimeoutMs, Topics = [new DeleteTopicsRequest.DeleteTopicState { Name = name }] };
            var deleted = await client.SendAsync<DeleteTopicsRequest, DeleteTopicsResponse>(ApiKey.DeleteTopics, DeleteTopicsVersion, request, cancellationToken).ConfigureAwait(false);
            var result = deleted.Responses[0];
            if (result.ErrorCode == (short)ErrorCode.UnknownTopicOrPartition)
            {
                throw new CliException($"topic '{name}' does not exist");
            }

            AdminClient.Check(result.ErrorCode, result.ErrorMessage, $"topic '{name}'");
            Console.WriteLine($"deleted {name}");
            return 0;
        });
        return command;
    }

    private static Command AddPartitions()
    {
        var total = CommonOptions.Int32("--partitions", "The new total number of partitions (more than today's)", 1);
        total.Required = true;
        var command = new Command("add-partitions", """
            Grow a topic to a larger number of partitions (CreatePartitions). Records already written stay where they
            are, so keys may map to other partitions from now on.

            Example:
              tributary topics add-partitions orders --partitions 8
            """)
        {
            Name, total, CommonOptions.Bootstrap, CommonOptions.CommandConfig,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var name = parse.GetRequiredValue(Name);
            var count = parse.GetValue(total);
            await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
            await AdminClient.TopicAsync(client, name, cancellationToken).ConfigureAwait(false);
            var request = new CreatePartitionsRequest { TimeoutMs = TimeoutMs, Topics = [new CreatePartitionsRequest.CreatePartitionsTopic { Name = name, Count = count, Assignments = null }] };
            var response = await client.SendAsync<CreatePartitionsRequest, CreatePartitionsResponse>(ApiKey.CreatePartitions, CreatePartitionsVersion, request, cancellationToken).ConfigureAwait(false);
            var result = response.Results[0];
            AdminClient.Check(result.ErrorCode, result.ErrorMessage, $"topic '{name}'");
            Console.WriteLine($"{name} now has {Number(count)} partitions");
            return 0;
        });
        return command;
    }

    // DescribeConfigsResponse's config_source values, named as Kafka's ConfigEntry.ConfigSource names them.
    private static string SourceName(sbyte source) => source switch
    {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "CLIENT_METRICS_CONFIG",
        8 => "GROUP_CONFIG",
        _ => "UNKNOWN",
    };

    private static string Number(long value) => value >= 0 ? value.ToString(CultureInfo.InvariantCulture) : "-";

    private static string Ids(List<int> ids) => ids.Count == 0 ? "-" : string.Join(',', ids.Select(i => i.ToString(CultureInfo.InvariantCulture)));

    internal sealed record TopicListing(string Name, Guid TopicId, int Partitions, bool Internal);

    internal sealed record TopicDescription(string Name, Guid TopicId, bool Internal, List<PartitionDescription> Partitions, List<ConfigDescription> Configs);

    internal sealed record PartitionDescription(int Partition, int Leader, List<int> Replicas, List<int> Isr, long LogStartOffset, long LogEndOffset, long SizeBytes);

    internal sealed record ConfigDescription(string Name, string? Value, string Source, bool ReadOnly, bool Sensitive);
}
