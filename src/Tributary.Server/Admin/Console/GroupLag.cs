using Tributary.Broker;

namespace Tributary.Server.Admin.Console;

/// <summary>A group's committed offsets against the partitions' high watermarks, as kafka-consumer-groups.sh shows lag.</summary>
internal static class GroupLag
{
    /// <summary>Classic and consumer-protocol groups, by id.</summary>
    public static IReadOnlyList<string> GroupIds(BrokerCore core) =>
        [.. core.Groups.ListGroups().Select(g => g.GroupId).Concat(core.Groups.ListConsumerGroups().Select(g => g.GroupId)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    public static IReadOnlyList<GroupOffsetBody> Offsets(BrokerCore core, string groupId)
    {
        var offsets = new List<GroupOffsetBody>();
        foreach (var ((topic, partition), committed) in core.Groups.FetchOffsets(groupId))
        {
            // A committed offset of a partition that no longer exists has no end to compare with: no lag shown.
            var end = core.Logs.TryGet(topic, partition, out var log) ? log.HighWatermark : committed.Offset;
            offsets.Add(new GroupOffsetBody(topic, partition, committed.Offset, end, Math.Max(0, end - committed.Offset)));
        }

        return [.. offsets.OrderBy(o => o.Topic, StringComparer.Ordinal).ThenBy(o => o.Partition)];
    }
}
