using System.CommandLine;
using System.Globalization;
using Tributary.Cli.Output;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;

namespace Tributary.Cli.Commands;

/// <summary>
/// <c>tributary groups reset-offsets</c>, as <c>kafka-consumer-groups.sh --reset-offsets</c>: computes new committed
/// offsets for the chosen partitions and prints them; only with <c>--execute</c> commits them. As Kafka requires, the
/// group must be inactive (no members), since a running member would overwrite the reset with its next commit.
/// </summary>
internal static class GroupOffsetReset
{
    private const short OffsetCommitVersion = 8;

    public static Command Create(Argument<string> group)
    {
        var topics = new Option<string[]>("--topic", "-t") { Description = "A topic, or TOPIC:P,P to choose partitions; repeatable", HelpName = "TOPIC[:PARTITIONS]" };
        var allTopics = new Option<bool>("--all-topics") { Description = "Every topic the group has committed offsets for" };
        var toEarliest = new Option<bool>("--to-earliest") { Description = "Reset to each partition's log start offset" };
        var toLatest = new Option<bool>("--to-latest") { Description = "Reset to each partition's log end offset" };
        var toOffset = CommonOptions.Int64("--to-offset", "Reset to this offset (kept within each partition's start and end, as Kafka does)", 0);
        var toDatetime = new Option<DateTimeOffset?>("--to-datetime")
        {
            Description = "Reset to the first offset whose timestamp is at or after this time (ISO 8601, UTC unless an offset is given)",
            HelpName = "YYYY-MM-DDTHH:mm:SS",
            CustomParser = result =>
            {
                var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
                if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value))
                {
                    return value;
                }

                result.AddError($"--to-datetime '{text}': expected a date and time such as 2026-12-01T08:00:00Z");
                return null;
            },
        };
        var execute = new Option<bool>("--execute") { Description = "Commit the new offsets (without it nothing changes: a dry run)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Only print the new offsets (the default)" };
        var command = new Command("reset-offsets", """
            Reset a group's committed offsets. Prints the current and new offset of each partition; commits them only
            with --execute (a dry run is the default, as in kafka-consumer-groups.sh). The group must have no members.

            Examples:
              tributary groups reset-offsets my-group --topic orders --to-earliest
              tributary groups reset-offsets my-group --topic orders:0,1 --to-offset 100 --execute
              tributary groups reset-offsets my-group --all-topics --to-datetime 2026-12-01T08:00:00Z --execute
            """)
        {
            group, topics, allTopics, toEarliest, toLatest, toOffset, toDatetime, execute, dryRun, CommonOptions.Bootstrap, CommonOptions.CommandConfig, CommonOptions.Output,
        };
        command.Validators.Add(result =>
        {
            var targets = new Option[] { toEarliest, toLatest, toOffset, toDatetime }.Count(o => result.GetResult(o) is not null);
            if (targets != 1)
            {
                result.AddError("give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime");
            }
            else if ((result.GetResult(topics) is null) == (result.GetResult(allTopics) is null))
            {
                result.AddError("give either --topic (repeatable) or --all-topics");
            }
            else if (result.GetResult(execute) is not null && result.GetResult(dryRun) is not null)
            {
                result.AddError("--execute and --dry-run contradict each other");
            }
        });
        command.SetAction(async (parse, cancellationToken) =>
        {
            var groupId = parse.GetRequiredValue(group);
            var output = CliOutput.For(parse.GetValue(CommonOptions.Output));
            await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
            var described = await GroupDescriber.DescribeAsync(client, groupId, cancellationToken).ConfigureAwait(false);
            if (described is { Members.Count: > 0 })
            {
                throw new CliException($"group {groupId} is {described.State} with {described.Members.Count} member(s): offsets can only be reset while it has none");
            }

            var committed = await GroupDescriber.CommittedAsync(client, groupId, cancellationToken).ConfigureAwait(false);
            var partitions = parse.GetValue(allTopics)
                ? [.. committed.Keys.OrderBy(k => k.Topic, StringComparer.Ordinal).ThenBy(k => k.Partition)]
                : await ChosenAsync(client, parse.GetValue(topics) ?? [], cancellationToken).ConfigureAwait(false);
            if (partitions.Count == 0)
            {
                throw new CliException($"group {groupId} has no committed offsets to reset");
            }

            var earliest = await AdminClient.OffsetsAsync(client, partitions, AdminClient.EarliestTimestamp, cancellationToken).ConfigureAwait(false);
            var latest = await AdminClient.OffsetsAsync(client, partitions, AdminClient.LatestTimestamp, cancellationToken).ConfigureAwait(false);
            Dictionary<(string Topic, int Partition), long> targets;
            if (parse.GetValue(toEarliest))
            {
                targets = earliest;
            }
            else if (parse.GetValue(toLatest))
            {
                targets = latest;
            }
            else if (parse.GetValue(toOffset) is { } offset)
            {
                targets = partitions.Where(latest.ContainsKey).ToDictionary(p => p, p => Math.Clamp(offset, earliest.GetValueOrDefault(p), latest[p]));
            }
            else
            {
                // ListOffsets answers -1 when no record is that recent; Kafka then resets to the log end.
                var at = await AdminClient.OffsetsAsync(client, partitions, parse.GetValue(toDatetime)!.Value.ToUnixTimeMilliseconds(), cancellationToken).ConfigureAwait(false);
                targets = at.ToDictionary(kv => kv.Key, kv => kv.Value >= 0 ? kv.Value : latest.GetValueOrDefault(kv.Key));
            }

            var missing = partitions.FirstOrDefault(p => !targets.ContainsKey(p));
            if (missing.Topic is not null)
            {
                throw new CliException($"partition {missing.Topic}:{missing.Partition} has no offsets (does it exist?)");
            }

            var rows = partitions.Select(p => new OffsetReset(p.Topic, p.Partition, committed.TryGetValue(p, out var c) ? c : null, targets[p])).ToList();
            var executing = parse.GetValue(execute);
            if (executing)
            {
                await CommitAsync(client, groupId, rows, cancellationToken).ConfigureAwait(false);
            }

            if (output.IsJson)
            {
                CliOutput.Json(new OffsetResetPlan(groupId, executing, rows), CliJsonContext.Default.OffsetResetPlan);
            }
            else
            {
                output.Table(["TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET"], rows.Select(r => (IReadOnlyList<string>)[r.Topic, GroupsCommand.Show(r.Partition), GroupsCommand.Show(r.Current), GroupsCommand.Show(r.New)]));
            }

            Console.Error.WriteLine(executing ? $"committed the new offsets of group {groupId}" : "dry run: nothing was committed; add --execute to commit these offsets");
            return 0;
        });
        return command;
    }

    /// <summary>The partitions --topic names: TOPIC for all of them, TOPIC:0,2 for some; a missing topic is an error.</summary>
    private static async Task<List<(string Topic, int Partition)>> ChosenAsync(KafkaWireClient client, string[] specs, CancellationToken cancellationToken)
    {
        var chosen = new List<(string Topic, int Partition)>();
        foreach (var spec in specs)
        {
            var colon = spec.IndexOf(':', StringComparison.Ordinal);
            var name = colon < 0 ? spec : spec[..colon];
            var topic = await AdminClient.TopicAsync(client, name, cancellationToken).ConfigureAwait(false);
            var existing = topic.Partitions.Select(p => p.PartitionIndex).Order().ToList();
            if (colon < 0)
            {
                chosen.AddRange(existing.Select(p => (name, p)));
                continue;
            }

            foreach (var part in spec[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var p) || !existing.Contains(p))
                {
                    throw new UsageException($"--topic '{spec}': {name} has no partition '{part}' (it has {existing.Count})");
                }

                chosen.Add((name, p));
            }
        }

        return [.. chosen.Distinct()];
    }

    /// <summary>OffsetCommit as a client outside the group does: generation -1, no member id (accepted for a group without members).</summary>
    private static async Task CommitAsync(KafkaWireClient client, string groupId, List<OffsetReset> rows, CancellationToken cancellationToken)
    {
        var request = new OffsetCommitRequest
        {
            GroupId = groupId,
            GenerationIdOrMemberEpoch = -1,
            MemberId = "",
            Topics = [.. rows.GroupBy(r => r.Topic).Select(t => new OffsetCommitRequest.OffsetCommitRequestTopic
            {
                Name = t.Key,
                Partitions = [.. t.Select(r => new OffsetCommitRequest.OffsetCommitRequestPartition { PartitionIndex = r.Partition, CommittedOffset = r.New, CommittedMetadata = "" })],
            })],
        };
        var response = await client.SendAsync<OffsetCommitRequest, OffsetCommitResponse>(ApiKey.OffsetCommit, OffsetCommitVersion, request, cancellationToken).ConfigureAwait(false);
        foreach (var topic in response.Topics)
        {
            foreach (var p in topic.Partitions)
            {
                AdminClient.Check(p.ErrorCode, null, $"committing {topic.Name}:{p.PartitionIndex}");
            }
        }
    }

    internal sealed record OffsetReset(string Topic, int Partition, long? Current, long New);

    internal sealed record OffsetResetPlan(string GroupId, bool Executed, List<OffsetReset> Partitions);
}
