using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;

namespace Tributary.Cli.Commands;

/// <summary>
/// Gathers what <c>groups describe</c> shows. A KIP-848 consumer group is described by ConsumerGroupDescribe
/// (DescribeGroups answers Dead for it, as Kafka does), a share group by ShareGroupDescribe, any other group by
/// DescribeGroups; committed offsets come from OffsetFetch and end offsets from ListOffsets.
/// </summary>
internal static class GroupDescriber
{
    public const string ClassicType = "classic";
    public const string ConsumerType = "consumer";
    public const string ShareType = "share";

    private const short DescribeGroupsVersion = 5;
    private const short ConsumerGroupDescribeVersion = 0;
    private const short ShareGroupDescribeVersion = 1;
    private const short DescribeShareGroupOffsetsVersion = 1;
    private const short OffsetFetchVersion = 7;
    private const string ConsumerProtocolType = "consumer";

    /// <summary>The group, or null when no group of any type has that id.</summary>
    public static async Task<GroupDescription?> DescribeAsync(KafkaWireClient client, string groupId, CancellationToken cancellationToken)
    {
        var consumerGroup = await client.SendAsync<ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse>(ApiKey.ConsumerGroupDescribe, ConsumerGroupDescribeVersion, new ConsumerGroupDescribeRequest { GroupIds = [groupId] }, cancellationToken).ConfigureAwait(false);
        if (consumerGroup.Groups is [{ ErrorCode: 0 } found])
        {
            return await ConsumerGroupAsync(client, found, cancellationToken).ConfigureAwait(false);
        }

        var shareGroup = await client.SendAsync<ShareGroupDescribeRequest, ShareGroupDescribeResponse>(ApiKey.ShareGroupDescribe, ShareGroupDescribeVersion, new ShareGroupDescribeRequest { GroupIds = [groupId] }, cancellationToken).ConfigureAwait(false);
        if (shareGroup.Groups is [{ ErrorCode: 0 } share])
        {
            return await ShareGroupAsync(client, share, cancellationToken).ConfigureAwait(false);
        }

        var described = await client.SendAsync<DescribeGroupsRequest, DescribeGroupsResponse>(ApiKey.DescribeGroups, DescribeGroupsVersion, new DescribeGroupsRequest { Groups = [groupId] }, cancellationToken).ConfigureAwait(false);
        var group = described.Groups[0];
        AdminClient.Check(group.ErrorCode, group.ErrorMessage, $"group {groupId}");
        var committed = await CommittedAsync(client, groupId, cancellationToken).ConfigureAwait(false);
        // Kafka answers an unknown group as "Dead" without an error; a group that only has offsets is "Empty".
        if (group.GroupState == "Dead" && committed.Count == 0)
        {
            return null;
        }

        var owners = new Dictionary<(string Topic, int Partition), string>();
        var members = group.Members.OrderBy(m => m.MemberId, StringComparer.Ordinal).Select(m =>
        {
            var assigned = group.ProtocolType == ConsumerProtocolType ? DecodeAssignment(m.MemberAssignment) : null;
            Own(owners, m.MemberId, assigned);
            return new MemberDescription(m.MemberId, m.ClientId, m.ClientHost, m.GroupInstanceId, null, assigned, m.MemberAssignment.Length);
        }).ToList();
        var protocol = (group.ProtocolType.Length == 0 ? "-" : group.ProtocolType) + (group.ProtocolData.Length == 0 ? "" : "/" + group.ProtocolData);
        var offsets = await OffsetsAsync(client, owners, committed, cancellationToken).ConfigureAwait(false);
        return new GroupDescription(group.GroupId, ClassicType, group.GroupState, protocol, group.ProtocolData.Length == 0 ? null : group.ProtocolData, null, members, offsets, null);
    }

    private static async Task<GroupDescription> ConsumerGroupAsync(KafkaWireClient client, ConsumerGroupDescribeResponse.DescribedGroup group, CancellationToken cancellationToken)
    {
        var committed = await CommittedAsync(client, group.GroupId, cancellationToken).ConfigureAwait(false);
        var owners = new Dictionary<(string Topic, int Partition), string>();
        var members = group.Members.OrderBy(m => m.MemberId, StringComparer.Ordinal).Select(m =>
        {
            List<AssignedTopic> assigned = [.. m.Assignment.TopicPartitions
                .OrderBy(t => t.TopicName, StringComparer.Ordinal)
                .Select(t => new AssignedTopic(t.TopicName, [.. t.Partitions.Order()]))];
            Own(owners, m.MemberId, assigned);
            return new MemberDescription(m.MemberId, m.ClientId, m.ClientHost, m.InstanceId, m.MemberEpoch, assigned, null);
        }).ToList();
        var offsets = await OffsetsAsync(client, owners, committed, cancellationToken).ConfigureAwait(false);
        return new GroupDescription(group.GroupId, ConsumerType, group.GroupState, $"consumer/{group.AssignorName}", group.AssignorName, group.GroupEpoch, members, offsets, null);
    }

    /// <summary>
    /// A share group (KIP-932): members with their assignments (several members may share a partition), then per
    /// partition the share-partition start offset, the log end offset, the records done (acknowledged or archived)
    /// above the start offset, and the lag DescribeShareGroupOffsets v1 reports: records from the start offset to the
    /// end not yet acknowledged or archived, in flight or never delivered (Kafka 4.2's definition, as
    /// kafka-share-groups.sh shows it).
    /// </summary>
    private static async Task<GroupDescription> ShareGroupAsync(KafkaWireClient client, ShareGroupDescribeResponse.DescribedGroup group, CancellationToken cancellationToken)
    {
        var holders = new Dictionary<(string Topic, int Partition), List<string>>();
        var members = new List<MemberDescription>();
        foreach (var member in group.Members.OrderBy(m => m.MemberId, StringComparer.Ordinal))
        {
            List<AssignedTopic> assigned = [.. member.Assignment.TopicPartitions
                .OrderBy(t => t.TopicName, StringComparer.Ordinal)
                .Select(t => new AssignedTopic(t.TopicName, [.. t.Partitions.Order()]))];
            foreach (var topic in assigned)
            {
                foreach (var p in topic.Partitions)
                {
                    holders.TryAdd((topic.Topic, p), []);
                    holders[(topic.Topic, p)].Add(member.MemberId);
                }
            }

            members.Add(new MemberDescription(member.MemberId, member.ClientId, member.ClientHost, null, member.MemberEpoch, assigned, null));
        }

        var request = new DescribeShareGroupOffsetsRequest { Groups = [new DescribeShareGroupOffsetsRequest.DescribeShareGroupOffsetsRequestGroup { GroupId = group.GroupId, Topics = null }] };
        var offsets = await client.SendAsync<DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse>(ApiKey.DescribeShareGroupOffsets, DescribeShareGroupOffsetsVersion, request, cancellationToken).ConfigureAwait(false);
        var starts = new Dictionary<(string Topic, int Partition), (long Start, long Lag)>();
        foreach (var topic in offsets.Groups.SelectMany(g => g.Topics))
        {
            foreach (var p in topic.Partitions.Where(p => p.ErrorCode == 0 && p.StartOffset >= 0))
            {
                starts[(topic.TopicName, p.PartitionIndex)] = (p.StartOffset, p.Lag);
            }
        }

        var keys = holders.Keys.Union(starts.Keys).OrderBy(k => k.Topic, StringComparer.Ordinal).ThenBy(k => k.Partition).ToList();
        var ends = await AdminClient.OffsetsAsync(client, keys, AdminClient.LatestTimestamp, cancellationToken).ConfigureAwait(false);
        var rows = keys.Select(key =>
        {
            long? start = starts.TryGetValue(key, out var s) ? s.Start : null;
            long? lag = starts.TryGetValue(key, out var l) && l.Lag >= 0 ? l.Lag : null;
            long? end = ends.TryGetValue(key, out var e) ? e : null;
            var done = start is { } st && end is { } en && lag is { } lg ? en - st - lg : (long?)null;
            return new ShareOffsetDescription(key.Topic, key.Partition, start, end, done, lag, holders.GetValueOrDefault(key) ?? []);
        }).ToList();
        return new GroupDescription(group.GroupId, ShareType, group.GroupState, $"share/{group.AssignorName}", group.AssignorName, group.GroupEpoch, members, null, rows);
    }

    private static void Own(Dictionary<(string Topic, int Partition), string> owners, string memberId, List<AssignedTopic>? assigned)
    {
        foreach (var topic in assigned ?? [])
        {
            foreach (var p in topic.Partitions)
            {
                owners[(topic.Topic, p)] = memberId;
            }
        }
    }

    /// <summary>Committed offset, log end offset and lag of every partition the group owns or has committed.</summary>
    private static async Task<List<OffsetDescription>> OffsetsAsync(KafkaWireClient client, Dictionary<(string Topic, int Partition), string> owners, Dictionary<(string Topic, int Partition), long> committed, CancellationToken cancellationToken)
    {
        var keys = owners.Keys.Union(committed.Keys).OrderBy(k => k.Topic, StringComparer.Ordinal).ThenBy(k => k.Partition).ToList();
        var ends = await AdminClient.OffsetsAsync(client, keys, AdminClient.LatestTimestamp, cancellationToken).ConfigureAwait(false);
        return [.. keys.Select(key =>
        {
            long? offset = committed.TryGetValue(key, out var c) ? c : null;
            long? end = ends.TryGetValue(key, out var e) ? e : null;
            return new OffsetDescription(key.Topic, key.Partition, offset, end, offset is { } o && end is { } en ? en - o : null, owners.GetValueOrDefault(key));
        })];
    }

    /// <summary>
    /// A consumer group's member assignment is an int16 version then ConsumerProtocolAssignment at that version
    /// (Kafka's ConsumerProtocol). A newer version than the codec knows is read with the newest known schema, as Kafka
    /// does: later versions only append fields. Null when the bytes are not a consumer assignment.
    /// </summary>
    private static List<AssignedTopic>? DecodeAssignment(byte[] bytes)
    {
        if (bytes.Length == 0)
        {
            return [];
        }

        try
        {
            var reader = new KafkaReader(bytes);
            var version = Math.Min(reader.ReadInt16(), ConsumerProtocolAssignment.HighestSupportedVersion);
            if (version < 0)
            {
                return null;
            }

            var assignment = ConsumerProtocolAssignment.Read(ref reader, version);
            return [.. assignment.AssignedPartitions.OrderBy(t => t.Topic, StringComparer.Ordinal).Select(t => new AssignedTopic(t.Topic, [.. t.Partitions.Order()]))];
        }
        catch (ProtocolException)
        {
            return null;
        }
    }

    /// <summary>Every offset the group has committed (OffsetFetch with null topics: all of them).</summary>
    public static async Task<Dictionary<(string Topic, int Partition), long>> CommittedAsync(KafkaWireClient client, string groupId, CancellationToken cancellationToken)
    {
        var response = await client.SendAsync<OffsetFetchRequest, OffsetFetchResponse>(ApiKey.OffsetFetch, OffsetFetchVersion, new OffsetFetchRequest { GroupId = groupId, Topics = null }, cancellationToken).ConfigureAwait(false);
        var committed = new Dictionary<(string Topic, int Partition), long>();
        foreach (var topic in response.Topics)
        {
            foreach (var p in topic.Partitions.Where(p => p.ErrorCode == 0 && p.CommittedOffset >= 0))
            {
                committed[(topic.Name, p.PartitionIndex)] = p.CommittedOffset;
            }
        }

        return committed;
    }
}

internal sealed record GroupDescription(
    string GroupId,
    string Type,
    string State,
    string Protocol,
    string? Assignor,
    int? GroupEpoch,
    List<MemberDescription> Members,
    List<OffsetDescription>? Offsets,
    List<ShareOffsetDescription>? ShareOffsets);

/// <summary>A member; <see cref="Assignment"/> is null when the assignment bytes are not a consumer assignment.</summary>
internal sealed record MemberDescription(string MemberId, string ClientId, string ClientHost, string? InstanceId, int? MemberEpoch, List<AssignedTopic>? Assignment, int? AssignmentBytes);

internal sealed record AssignedTopic(string Topic, List<int> Partitions);

internal sealed record OffsetDescription(string Topic, int Partition, long? Committed, long? End, long? Lag, string? Member);

internal sealed record ShareOffsetDescription(string Topic, int Partition, long? StartOffset, long? End, long? Done, long? Lag, List<string> Members);
