using System.Globalization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;

namespace Tributary.Cli;

/// <summary>
/// <c>tributary groups list</c> and <c>tributary groups describe GROUP</c>: what <c>kafka-consumer-groups.sh</c>
/// shows, over <see cref="KafkaWireClient"/>: members and their assigned partitions, committed offsets and lag; for a
/// share group what <c>kafka-share-groups.sh</c> shows (members, share-partition start offsets and lag).
/// </summary>
internal static class GroupsCommand
{
    // Versions every broker of this codebase serves; ListGroups v5 is the first that returns each group's type.
    private const short ListGroupsVersion = 5;
    private const short DescribeGroupsVersion = 5;
    private const short ConsumerGroupDescribeVersion = 0;
    private const short ShareGroupDescribeVersion = 1;
    private const short DescribeShareGroupOffsetsVersion = 1;
    private const short OffsetFetchVersion = 7;
    private const short ListOffsetsVersion = 7;
    private const long LatestTimestamp = -1;
    private const string ConsumerProtocolType = "consumer";

    public static async Task<int> RunAsync(List<string> args, string bootstrap)
    {
        var verb = args.Count > 0 ? args[0] : "list";
        await using var client = await KafkaWireClient.ConnectAsync(bootstrap).ConfigureAwait(false);
        return verb switch
        {
            "list" => await ListAsync(client).ConfigureAwait(false),
            "describe" when args.Count > 1 => await DescribeAsync(client, args[1]).ConfigureAwait(false),
            _ => Fail($"groups {verb}: missing or unknown arguments"),
        };
    }

    private static async Task<int> ListAsync(KafkaWireClient client)
    {
        var response = await client.SendAsync<ListGroupsRequest, ListGroupsResponse>(ApiKey.ListGroups, ListGroupsVersion, new ListGroupsRequest()).ConfigureAwait(false);
        if (response.ErrorCode != 0)
        {
            return Fail(((ErrorCode)response.ErrorCode).ToString());
        }

        var groups = response.Groups.OrderBy(g => g.GroupId, StringComparer.Ordinal).ToList();
        var width = groups.Select(g => g.GroupId.Length).Append("GROUP".Length).Max();
        Console.WriteLine($"{"GROUP".PadRight(width)}  {"TYPE",-8}  {"STATE",-20}  PROTOCOL TYPE");
        foreach (var g in groups)
        {
            Console.WriteLine($"{g.GroupId.PadRight(width)}  {g.GroupType,-8}  {g.GroupState,-20}  {(g.ProtocolType.Length == 0 ? "-" : g.ProtocolType)}");
        }

        return 0;
    }

    private static async Task<int> DescribeAsync(KafkaWireClient client, string groupId)
    {
        // A KIP-848 consumer group is described by ConsumerGroupDescribe (DescribeGroups answers Dead for it, as Kafka does);
        // any other group by DescribeGroups.
        var consumerGroup = await client.SendAsync<ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse>(ApiKey.ConsumerGroupDescribe, ConsumerGroupDescribeVersion, new ConsumerGroupDescribeRequest { GroupIds = [groupId] }).ConfigureAwait(false);
        if (consumerGroup.Groups is [{ ErrorCode: 0 } found])
        {
            return await DescribeConsumerGroupAsync(client, found).ConfigureAwait(false);
        }

        var shareGroup = await client.SendAsync<ShareGroupDescribeRequest, ShareGroupDescribeResponse>(ApiKey.ShareGroupDescribe, ShareGroupDescribeVersion, new ShareGroupDescribeRequest { GroupIds = [groupId] }).ConfigureAwait(false);
        if (shareGroup.Groups is [{ ErrorCode: 0 } share])
        {
            return await DescribeShareGroupAsync(client, share).ConfigureAwait(false);
        }

        var described = await client.SendAsync<DescribeGroupsRequest, DescribeGroupsResponse>(ApiKey.DescribeGroups, DescribeGroupsVersion, new DescribeGroupsRequest { Groups = [groupId] }).ConfigureAwait(false);
        var group = described.Groups[0];
        if (group.ErrorCode != 0)
        {
            return Fail($"{groupId}: {(ErrorCode)group.ErrorCode}");
        }

        var committed = await CommittedAsync(client, groupId).ConfigureAwait(false);
        // Kafka answers an unknown group as "Dead" without an error; a group that only has offsets is "Empty".
        if (group.GroupState == "Dead" && committed.Count == 0)
        {
            return Fail($"group {groupId} does not exist");
        }

        var owners = new Dictionary<(string Topic, int Partition), string>();
        var protocol = group.ProtocolData.Length == 0 ? "" : "/" + group.ProtocolData;
        Console.WriteLine($"group {groupId}: {group.GroupState}, protocol {(group.ProtocolType.Length == 0 ? "-" : group.ProtocolType)}{protocol}, {Plural(group.Members.Count, "member")}");
        foreach (var member in group.Members.OrderBy(m => m.MemberId, StringComparer.Ordinal))
        {
            var assigned = group.ProtocolType == ConsumerProtocolType ? DecodeAssignment(member.MemberAssignment) : null;
            var instance = member.GroupInstanceId is null ? "" : $", instance {member.GroupInstanceId}";
            var assignment = assigned is null ? $"{member.MemberAssignment.Length} assignment bytes" : Owned(owners, member.MemberId, assigned);
            Console.WriteLine($"  member {member.MemberId} (client {member.ClientId}, host {member.ClientHost}{instance}): {assignment}");
        }

        await PrintOffsetsAsync(client, owners, committed).ConfigureAwait(false);
        return 0;
    }

    /// <summary>A KIP-848 consumer group as ConsumerGroupDescribe reports it: members with epochs and assignments, then offsets.</summary>
    private static async Task<int> DescribeConsumerGroupAsync(KafkaWireClient client, ConsumerGroupDescribeResponse.DescribedGroup group)
    {
        var committed = await CommittedAsync(client, group.GroupId).ConfigureAwait(false);
        var owners = new Dictionary<(string Topic, int Partition), string>();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"group {group.GroupId}: {group.GroupState}, protocol consumer/{group.AssignorName} (KIP-848, group epoch {group.GroupEpoch}), {Plural(group.Members.Count, "member")}"));
        foreach (var member in group.Members.OrderBy(m => m.MemberId, StringComparer.Ordinal))
        {
            var assigned = member.Assignment.TopicPartitions
                .OrderBy(t => t.TopicName, StringComparer.Ordinal)
                .Select(t => (Topic: t.TopicName, Partitions: t.Partitions.Order().ToList()))
                .ToList();
            var instance = member.InstanceId is null ? "" : $", instance {member.InstanceId}";
            var assignment = Owned(owners, member.MemberId, assigned);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  member {member.MemberId} (client {member.ClientId}, host {member.ClientHost}{instance}, epoch {member.MemberEpoch}): {assignment}"));
        }

        await PrintOffsetsAsync(client, owners, committed).ConfigureAwait(false);
        return 0;
    }

    /// <summary>
    /// A share group (KIP-932): its members with their assignments (several members may share a partition), then per
    /// partition the share-partition start offset, the log end offset, the records done (acknowledged or archived)
    /// above the start offset, and the lag DescribeShareGroupOffsets v1 reports: records from the start offset to the
    /// end not yet acknowledged or archived, in flight or never delivered (Kafka 4.2's definition, as
    /// kafka-share-groups.sh shows it).
    /// </summary>
    private static async Task<int> DescribeShareGroupAsync(KafkaWireClient client, ShareGroupDescribeResponse.DescribedGroup group)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"group {group.GroupId}: {group.GroupState}, share group/{group.AssignorName} (group epoch {group.GroupEpoch}), {Plural(group.Members.Count, "member")}"));
        var members = new Dictionary<(string Topic, int Partition), List<string>>();
        foreach (var member in group.Members.OrderBy(m => m.MemberId, StringComparer.Ordinal))
        {
            var assigned = member.Assignment.TopicPartitions.OrderBy(t => t.TopicName, StringComparer.Ordinal).ToList();
            foreach (var topic in assigned)
            {
                foreach (var p in topic.Partitions)
                {
                    members.TryAdd((topic.TopicName, p), []);
                    members[(topic.TopicName, p)].Add(member.MemberId);
                }
            }

            var assignment = assigned.Count == 0 ? "no partitions" : string.Join("; ", assigned.Select(t => $"{t.TopicName} [{string.Join(", ", t.Partitions.Order())}]"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  member {member.MemberId} (client {member.ClientId}, host {member.ClientHost}, epoch {member.MemberEpoch}): {assignment}"));
        }

        var request = new DescribeShareGroupOffsetsRequest { Groups = [new DescribeShareGroupOffsetsRequest.DescribeShareGroupOffsetsRequestGroup { GroupId = group.GroupId, Topics = null }] };
        var offsets = await client.SendAsync<DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse>(ApiKey.DescribeShareGroupOffsets, DescribeShareGroupOffsetsVersion, request).ConfigureAwait(false);
        var starts = new Dictionary<(string Topic, int Partition), (long Start, long Lag)>();
        foreach (var topic in offsets.Groups.SelectMany(g => g.Topics))
        {
            foreach (var p in topic.Partitions.Where(p => p.ErrorCode == 0 && p.StartOffset >= 0))
            {
                starts[(topic.TopicName, p.PartitionIndex)] = (p.StartOffset, p.Lag);
            }
        }

        var rows = members.Keys.Union(starts.Keys).OrderBy(k => k.Topic, StringComparer.Ordinal).ThenBy(k => k.Partition).ToList();
        var ends = await EndOffsetsAsync(client, rows).ConfigureAwait(false);
        var topicWidth = rows.Select(r => r.Topic.Length).Append("TOPIC".Length).Max();
        Console.WriteLine($"{"TOPIC".PadRight(topicWidth)}  PARTITION  START-OFFSET        END       DONE        LAG  MEMBERS");
        foreach (var key in rows)
        {
            var (start, lag) = starts.TryGetValue(key, out var s) ? s : (-1, -1);
            var end = ends.TryGetValue(key, out var e) ? e : -1;
            var done = start >= 0 && end >= 0 && lag >= 0 ? end - start - lag : -1;
            var owners = members.TryGetValue(key, out var m) ? string.Join(",", m) : "-";
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{key.Topic.PadRight(topicWidth)}  {key.Partition,9}  {Show(start),12}  {Show(end),9}  {Show(done),9}  {Show(lag),9}  {owners}"));
        }

        return 0;
    }

    /// <summary>Records <paramref name="memberId"/> as the owner of its partitions and returns them as the describe line shows them.</summary>
    private static string Owned(Dictionary<(string Topic, int Partition), string> owners, string memberId, List<(string Topic, List<int> Partitions)> assigned)
    {
        foreach (var (topic, partitions) in assigned)
        {
            foreach (var p in partitions)
            {
                owners[(topic, p)] = memberId;
            }
        }

        return assigned.Count == 0 ? "no partitions" : string.Join("; ", assigned.Select(t => $"{t.Topic} [{string.Join(", ", t.Partitions)}]"));
    }

    /// <summary>Committed offset, log end offset and lag of every partition the group owns or has committed.</summary>
    private static async Task PrintOffsetsAsync(KafkaWireClient client, Dictionary<(string Topic, int Partition), string> owners, Dictionary<(string Topic, int Partition), long> committed)
    {
        var rows = owners.Keys.Union(committed.Keys).OrderBy(k => k.Topic, StringComparer.Ordinal).ThenBy(k => k.Partition).ToList();
        var ends = await EndOffsetsAsync(client, rows).ConfigureAwait(false);
        var topicWidth = rows.Select(r => r.Topic.Length).Append("TOPIC".Length).Max();
        Console.WriteLine($"{"TOPIC".PadRight(topicWidth)}  PARTITION  COMMITTED        END        LAG  MEMBER");
        foreach (var key in rows)
        {
            var offset = committed.TryGetValue(key, out var c) ? c : -1;
            var end = ends.TryGetValue(key, out var e) ? e : -1;
            var lag = offset >= 0 && end >= 0 ? (end - offset).ToString(CultureInfo.InvariantCulture) : "-";
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{key.Topic.PadRight(topicWidth)}  {key.Partition,9}  {Show(offset),9}  {Show(end),9}  {lag,9}  {owners.GetValueOrDefault(key, "-")}"));
        }
    }

    /// <summary>
    /// A consumer group's member assignment is an int16 version then ConsumerProtocolAssignment at that version
    /// (Kafka's ConsumerProtocol). A newer version than the codec knows is read with the newest known schema, as Kafka
    /// does: later versions only append fields. Null when the bytes are not a consumer assignment.
    /// </summary>
    private static List<(string Topic, List<int> Partitions)>? DecodeAssignment(byte[] bytes)
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
            return [.. assignment.AssignedPartitions.OrderBy(t => t.Topic, StringComparer.Ordinal).Select(t => (t.Topic, t.Partitions.Order().ToList()))];
        }
        catch (ProtocolException)
        {
            return null;
        }
    }

    /// <summary>Every offset the group has committed (OffsetFetch with null topics: all of them).</summary>
    private static async Task<Dictionary<(string Topic, int Partition), long>> CommittedAsync(KafkaWireClient client, string groupId)
    {
        var response = await client.SendAsync<OffsetFetchRequest, OffsetFetchResponse>(ApiKey.OffsetFetch, OffsetFetchVersion, new OffsetFetchRequest { GroupId = groupId, Topics = null }).ConfigureAwait(false);
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

    /// <summary>The log end offset (high watermark) of each partition; a partition whose topic is gone is left out.</summary>
    private static async Task<Dictionary<(string Topic, int Partition), long>> EndOffsetsAsync(KafkaWireClient client, List<(string Topic, int Partition)> partitions)
    {
        var ends = new Dictionary<(string Topic, int Partition), long>();
        if (partitions.Count == 0)
        {
            return ends;
        }

        var request = new ListOffsetsRequest
        {
            ReplicaId = -1,
            Topics = [.. partitions.GroupBy(p => p.Topic).Select(t => new ListOffsetsRequest.ListOffsetsTopic
            {
                Name = t.Key,
                Partitions = [.. t.Select(p => new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = p.Partition, Timestamp = LatestTimestamp })],
            })],
        };
        var response = await client.SendAsync<ListOffsetsRequest, ListOffsetsResponse>(ApiKey.ListOffsets, ListOffsetsVersion, request).ConfigureAwait(false);
        foreach (var topic in response.Topics)
        {
            foreach (var p in topic.Partitions.Where(p => p.ErrorCode == 0))
            {
                ends[(topic.Name, p.PartitionIndex)] = p.Offset;
            }
        }

        return ends;
    }

    private static string Show(long offset) => offset >= 0 ? offset.ToString(CultureInfo.InvariantCulture) : "-";

    private static string Plural(int count, string noun) => count == 1 ? $"1 {noun}" : $"{count} {noun}s";

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"tributary: {message}");
        return 2;
    }
}
