using Microsoft.AspNetCore.Http;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Groups;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using ConnectionInfo = Tributary.Broker.Dispatch.ConnectionInfo;

namespace Tributary.Server.Admin.Console;

/// <summary>Consumer groups: list, members and assignments, lag per partition and over time, resetting offsets.</summary>
internal sealed partial class ConsoleApi
{
    public async Task GroupsAsync(HttpContext http)
    {
        if (await CallerAsync(http).ConfigureAwait(false) is not { } caller)
        {
            return;
        }

        var core = Core;
        var classic = core.Groups.ListGroups().ToDictionary(g => g.GroupId, StringComparer.Ordinal);
        var list = new List<GroupSummaryBody>();
        foreach (var groupId in GroupLag.GroupIds(core).Where(g => core.Authorizer.Authorize(caller, AclOperation.Describe, AclResourceType.Group, g)))
        {
            var (type, state, members) = classic.TryGetValue(groupId, out var listing)
                ? ("classic", listing.State.ToString(), core.Groups.DescribeGroup(groupId).Members.Count)
                : core.Groups.DescribeConsumerGroup(groupId) is { } consumer ? ("consumer", consumer.State.ToString(), consumer.Members.Count) : ("consumer", "Empty", 0);
            list.Add(new GroupSummaryBody(groupId, type, state, members, GroupLag.Offsets(core, groupId).Sum(o => o.Lag)));
        }

        await WriteAsync(http, 200, (IReadOnlyList<GroupSummaryBody>)list, ConsoleJsonContext.Default.IReadOnlyListGroupSummaryBody).ConfigureAwait(false);
    }

    public async Task GroupAsync(HttpContext http)
    {
        if (await CallerAsync(http).ConfigureAwait(false) is not { } caller || await GroupIdOrErrorAsync(http, caller, AclOperation.Describe).ConfigureAwait(false) is not { } groupId)
        {
            return;
        }

        var core = Core;
        string type, state;
        List<MemberBody> members;
        if (core.Groups.DescribeConsumerGroup(groupId) is { } consumer)
        {
            (type, state) = ("consumer", consumer.State.ToString());
            members = [.. consumer.Members.Select(m => new MemberBody(m.MemberId, m.InstanceId, m.ClientId, m.ClientHost,
                [.. m.Assignment.OrderBy(a => a.TopicName, StringComparer.Ordinal).Select(a => new AssignmentBody(a.TopicName, [.. a.Partitions.Order()]))]))];
        }
        else
        {
            var described = core.Groups.DescribeGroup(groupId);
            (type, state) = ("classic", described.State.ToString());
            members = [.. described.Members.Select(m => new MemberBody(m.MemberId, m.GroupInstanceId, m.ClientId, m.ClientHost,
                described.ProtocolType == "consumer" ? Assignments(m.Assignment) : []))];
        }

        var offsets = GroupLag.Offsets(core, groupId);
        if (members.Count == 0 && offsets.Count == 0 && state is "Dead" or "Empty")
        {
            await ErrorAsync(http, 404, $"no group {groupId}").ConfigureAwait(false);
            return;
        }

        var lag = offsets.Sum(o => o.Lag);
        Sampler.AddLag(groupId, lag);
        var body = new GroupBody(groupId, type, state, members, offsets, lag, Sampler.LagSamples(groupId));
        await WriteAsync(http, 200, body, ConsoleJsonContext.Default.GroupBody).ConfigureAwait(false);
    }

    /// <summary>
    /// POST groups/{group}/reset: commits new offsets for a topic's partitions (all, or the listed ones) through the
    /// OffsetCommit handler as an admin commit (generation -1, no member), which the group refuses while it has
    /// members, as kafka-consumer-groups.sh --reset-offsets needs an inactive group. An offset past either end is
    /// moved to that end, as that tool does.
    /// </summary>
    public async Task ResetOffsetsAsync(HttpContext http)
    {
        if (await CallerAsync(http).ConfigureAwait(false) is not { } caller
            || await ReadAsync(http, ConsoleJsonContext.Default.ResetOffsetsInput).ConfigureAwait(false) is not { } input)
        {
            return;
        }

        var groupId = Route(http, "group");
        var core = Core;
        var topic = input.Topic is null ? null : core.Metadata.Find(input.Topic);
        string? error = input.Topic is null ? "topic is required"
            : topic is null ? $"no topic {input.Topic}"
            : input.To switch
            {
                "earliest" or "latest" => null,
                "offset" => input.Offset is >= 0 ? null : "to=offset needs an offset of 0 or more",
                "timestamp" => input.TimestampMs is >= 0 ? null : "to=timestamp needs a timestampMs of 0 or more",
                _ => "to must be earliest, latest, offset or timestamp",
            };
        var partitions = input.Partitions ?? (topic is null ? [] : [.. Enumerable.Range(0, topic.PartitionCount)]);
        error ??= partitions.Count == 0 ? "no partitions to reset"
            : partitions.FirstOrDefault(p => p < 0 || p >= topic!.PartitionCount, -1) is var bad && bad >= 0 ? $"topic {topic!.Name} has no partition {bad}"
            : partitions.Distinct().Count() != partitions.Count ? "a partition is listed twice" : null;
        if (error is not null)
        {
            await ErrorAsync(http, 400, error).ConfigureAwait(false);
            return;
        }

        var commit = new OffsetCommitRequest.OffsetCommitRequestTopic { Name = topic!.Name };
        foreach (var p in partitions)
        {
            if (!core.Logs.TryGet(topic.Name, p, out var log))
            {
                await ErrorAsync(http, 503, $"partition {p} of {topic.Name} is offline").ConfigureAwait(false);
                return;
            }

            var target = input.To switch
            {
                "earliest" => log.LogStartOffset,
                "latest" => log.HighWatermark,
                "offset" => Math.Clamp(input.Offset!.Value, log.LogStartOffset, log.HighWatermark),
                _ => log.FirstOffsetAtOrAfterTimestamp(input.TimestampMs!.Value) ?? log.HighWatermark,
            };
            commit.Partitions.Add(new() { PartitionIndex = p, CommittedOffset = target });
        }

        var request = new OffsetCommitRequest { GroupId = groupId, GenerationIdOrMemberEpoch = -1, MemberId = "", Topics = [commit] };
        var response = await _handlers.SendAsync<OffsetCommitRequest, OffsetCommitResponse>(ApiKey.OffsetCommit, 9, request, caller, http.RequestAborted).ConfigureAwait(false);
        var failed = response.Topics.SelectMany(t => t.Partitions).FirstOrDefault(r => r.ErrorCode != 0);
        await AnswerAsync(http, failed?.ErrorCode ?? 0, failed is null ? null : "the group must have no members (stop its consumers first)",
            $"reset {commit.Partitions.Count} offsets of {groupId} on {topic.Name}").ConfigureAwait(false);
    }

    private async Task<string?> GroupIdOrErrorAsync(HttpContext http, ConnectionInfo caller, AclOperation operation)
    {
        var groupId = Route(http, "group");
        if (!Core.Authorizer.Authorize(caller, operation, AclResourceType.Group, groupId))
        {
            await ErrorAsync(http, 403, $"{caller.Principal} may not {operation.ToString().ToUpperInvariant()} group {groupId}").ConfigureAwait(false);
            return null;
        }

        return groupId;
    }

    /// <summary>A classic consumer's assignment (ConsumerProtocolAssignment, version first); none when it does not decode.</summary>
    private static List<AssignmentBody> Assignments(byte[] bytes)
    {
        if (bytes.Length < 2)
        {
            return [];
        }

        try
        {
            var reader = new KafkaReader(bytes);
            var version = Math.Min(reader.ReadInt16(), ConsumerProtocolAssignment.HighestSupportedVersion);
            return version < 0 ? [] :
                [.. ConsumerProtocolAssignment.Read(ref reader, version).AssignedPartitions
                    .OrderBy(t => t.Topic, StringComparer.Ordinal).Select(t => new AssignmentBody(t.Topic, [.. t.Partitions.Order()]))];
        }
        catch (ProtocolException)
        {
            return [];
        }
    }
}
