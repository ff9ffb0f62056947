using System.CommandLine;
using System.Globalization;
using Tributary.Cli.Output;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;

namespace Tributary.Cli.Commands;

/// <summary>
/// <c>tributary groups list|describe|reset-offsets|delete</c>: what <c>kafka-consumer-groups.sh</c> does, over
/// <see cref="KafkaWireClient"/>: members and their assigned partitions, committed offsets and lag; for a share
/// group what <c>kafka-share-groups.sh</c> shows (members, share-partition start offsets and lag).
/// </summary>
internal static class GroupsCommand
{
    // ListGroups v5 is the first that returns each group's type.
    private const short ListGroupsVersion = 5;
    private const short DeleteGroupsVersion = 2;

    private static readonly Argument<string> Group = new("group") { Description = "The group's id" };

    public static Command Create()
    {
        var groups = new Command("groups", """
            List, describe, reset and delete consumer groups and share groups.

            Examples:
              tributary groups list
              tributary groups describe my-group
              tributary groups reset-offsets my-group --all-topics --to-earliest --execute
            """);
        groups.Add(List());
        groups.Add(Describe());
        groups.Add(GroupOffsetReset.Create(Group));
        groups.Add(Delete());
        return groups;
    }

    private static Command List()
    {
        var command = new Command("list", """
            List the groups with their type (classic, consumer, share), state and protocol type.

            Examples:
              tributary groups list
              tributary groups list --output json
            """);
        CommonOptions.AddReadOptions(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = CliOutput.For(parse.GetValue(CommonOptions.Output));
            await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
            var response = await client.SendAsync<ListGroupsRequest, ListGroupsResponse>(ApiKey.ListGroups, ListGroupsVersion, new ListGroupsRequest(), cancellationToken).ConfigureAwait(false);
            AdminClient.Check(response.ErrorCode, null, "groups list");
            var groups = response.Groups
                .OrderBy(g => g.GroupId, StringComparer.Ordinal)
                .Select(g => new GroupListing(g.GroupId, g.GroupType, g.GroupState, g.ProtocolType.Length == 0 ? "-" : g.ProtocolType))
                .ToList();
            if (output.IsJson)
            {
                CliOutput.Json(groups, CliJsonContext.Default.ListGroupListing);
            }
            else
            {
                output.Table(["GROUP", "TYPE", "STATE", "PROTOCOL-TYPE"], groups.Select(g => (IReadOnlyList<string>)[g.GroupId, g.Type, g.State, g.ProtocolType]));
            }

            return 0;
        });
        return command;
    }

    private static Command Describe()
    {
        var command = new Command("describe", """
            Show a group: its state, its members with their assignments, and per partition the committed offset, the
            log end offset and the lag. For a share group: per partition the share-partition start offset, the log end
            offset, the records done (acknowledged or archived) above the start offset and the lag.

            Examples:
              tributary groups describe my-group
              tributary groups describe my-group --output json
            """)
        {
            Group,
        };
        CommonOptions.AddReadOptions(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = CliOutput.For(parse.GetValue(CommonOptions.Output));
            await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
            var group = await GroupDescriber.DescribeAsync(client, parse.GetRequiredValue(Group), cancellationToken).ConfigureAwait(false)
                ?? throw new CliException($"group {parse.GetRequiredValue(Group)} does not exist");
            if (output.IsJson)
            {
                CliOutput.Json(group, CliJsonContext.Default.GroupDescription);
            }
            else
            {
                Print(output, group);
            }

            return 0;
        });
        return command;
    }

    private static void Print(CliOutput output, GroupDescription group)
    {
        var members = group.Members.Count == 1 ? "1 member" : $"{group.Members.Count.ToString(CultureInfo.InvariantCulture)} members";
        var epoch = group.GroupEpoch?.ToString(CultureInfo.InvariantCulture);
        output.Line(group.Type switch
        {
            GroupDescriber.ConsumerType => $"group {group.GroupId}: {group.State}, protocol {group.Protocol} (KIP-848, group epoch {epoch}), {members}",
            GroupDescriber.ShareType => $"group {group.GroupId}: {group.State}, share group/{group.Assignor} (group epoch {epoch}), {members}",
            _ => $"group {group.GroupId}: {group.State}, protocol {group.Protocol}, {members}",
        });
        foreach (var member in group.Members)
        {
            var instance = member.InstanceId is null ? "" : $", instance {member.InstanceId}";
            var memberEpoch = member.MemberEpoch is { } e ? $", epoch {e.ToString(CultureInfo.InvariantCulture)}" : "";
            var assignment = member.Assignment switch
            {
                null => $"{GroupsCommand.Show(member.AssignmentBytes)} assignment bytes",
                [] => "no partitions",
                var topics => string.Join("; ", topics.Select(t => $"{t.Topic} [{string.Join(", ", t.Partitions)}]")),
            };
            output.Line($"  member {member.MemberId} (client {member.ClientId}, host {member.ClientHost}{instance}{memberEpoch}): {assignment}");
        }

        if (group.ShareOffsets is { } share)
        {
            output.Table(
                ["TOPIC", "PARTITION", "START-OFFSET", "END", "DONE", "LAG", "MEMBERS"],
                share.Select(r => (IReadOnlyList<string>)[r.Topic, Show(r.Partition), Show(r.StartOffset), Show(r.End), Show(r.Done), Show(r.Lag), r.Members.Count == 0 ? "-" : string.Join(',', r.Members)]));
        }
        else
        {
            output.Table(
                ["TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "MEMBER"],
                (group.Offsets ?? []).Select(r => (IReadOnlyList<string>)[r.Topic, Show(r.Partition), Show(r.Committed), Show(r.End), Show(r.Lag), r.Member ?? "-"]));
        }
    }

    private static Command Delete()
    {
        var groups = new Argument<string[]>("group") { Description = "The groups to delete", Arity = ArgumentArity.OneOrMore };
        var command = new Command("delete", """
            Delete groups and their committed offsets. A group with members is refused (NON_EMPTY_GROUP): stop its
            consumers first.

            Example:
              tributary groups delete my-group old-group
            """)
        {
            groups, CommonOptions.Bootstrap, CommonOptions.CommandConfig,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
            var request = new DeleteGroupsRequest { GroupsNames = [.. parse.GetRequiredValue(groups)] };
            var response = await client.SendAsync<DeleteGroupsRequest, DeleteGroupsResponse>(ApiKey.DeleteGroups, DeleteGroupsVersion, request, cancellationToken).ConfigureAwait(false);
            var failures = new List<string>();
            foreach (var result in response.Results)
            {
                switch ((ErrorCode)result.ErrorCode)
                {
                    case ErrorCode.None:
                        Console.WriteLine($"deleted group {result.GroupId}");
                        break;
                    case ErrorCode.GroupIdNotFound:
                        failures.Add($"group {result.GroupId} does not exist");
                        break;
                    case ErrorCode.NonEmptyGroup:
                        failures.Add($"group {result.GroupId} has members: stop them first");
                        break;
                    default:
                        failures.Add($"group {result.GroupId}: {(ErrorCode)result.ErrorCode}");
                        break;
                }
            }

            return failures.Count == 0 ? 0 : throw new CliException(string.Join("; ", failures));
        });
        return command;
    }

    internal static string Show(long? value) => value is { } v and >= 0 ? v.ToString(CultureInfo.InvariantCulture) : "-";

    internal sealed record GroupListing(string GroupId, string Type, string State, string ProtocolType);
}
