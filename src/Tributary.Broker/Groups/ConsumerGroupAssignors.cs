namespace Tributary.Broker.Groups;

/// <summary>
/// The server-side assignors of KIP-848: "uniform" (the default: balanced and sticky) and "range" (per topic, contiguous
/// ranges over members sorted by id). Both are deterministic functions of the members' subscriptions, the topics'
/// partition counts and (uniform only) the previous target assignment.
/// </summary>
internal static class ConsumerGroupAssignors
{
    public const string Uniform = "uniform";
    public const string Range = "range";

    public static bool IsSupported(string name) => name is Uniform or Range;

    /// <param name="subscriptions">member id → subscribed topic ids (only topics that exist).</param>
    /// <param name="partitionCounts">topic id → partition count.</param>
    /// <param name="previous">the previous target assignment, for stickiness.</param>
    public static Dictionary<string, HashSet<(Guid TopicId, int Partition)>> Assign(
        string assignor,
        IReadOnlyDictionary<string, HashSet<Guid>> subscriptions,
        IReadOnlyDictionary<Guid, int> partitionCounts,
        IReadOnlyDictionary<string, HashSet<(Guid TopicId, int Partition)>> previous) =>
        assignor == Range ? AssignRange(subscriptions, partitionCounts) : AssignUniform(subscriptions, partitionCounts, previous);

    private static Dictionary<string, HashSet<(Guid TopicId, int Partition)>> AssignRange(
        IReadOnlyDictionary<string, HashSet<Guid>> subscriptions, IReadOnlyDictionary<Guid, int> partitionCounts)
    {
        var result = subscriptions.Keys.ToDictionary(m => m, _ => new HashSet<(Guid TopicId, int Partition)>(), StringComparer.Ordinal);
        foreach (var (topicId, count) in partitionCounts.OrderBy(t => t.Key))
        {
            var members = subscriptions.Where(s => s.Value.Contains(topicId)).Select(s => s.Key).Order(StringComparer.Ordinal).ToList();
            if (members.Count == 0)
            {
                continue;
            }

            // The first (count % members) members get one partition more, as Kafka's range assignor does.
            var quota = count / members.Count;
            var extra = count % members.Count;
            var next = 0;
            for (var i = 0; i < members.Count; i++)
            {
                var take = quota + (i < extra ? 1 : 0);
                for (var p = 0; p < take; p++)
                {
                    result[members[i]].Add((topicId, next++));
                }
            }
        }

        return result;
    }

    private static Dictionary<string, HashSet<(Guid TopicId, int Partition)>> AssignUniform(
        IReadOnlyDictionary<string, HashSet<Guid>> subscriptions,
        IReadOnlyDictionary<Guid, int> partitionCounts,
        IReadOnlyDictionary<string, HashSet<(Guid TopicId, int Partition)>> previous)
    {
        var result = subscriptions.Keys.ToDictionary(m => m, _ => new HashSet<(Guid TopicId, int Partition)>(), StringComparer.Ordinal);
        var all = partitionCounts.OrderBy(t => t.Key).SelectMany(t => Enumerable.Range(0, t.Value).Select(p => (TopicId: t.Key, Partition: p))).ToList();
        if (result.Count == 0)
        {
            return result;
        }

        // Stickiness: each member keeps up to floor(partitions / members) of its previous target partitions that it still
        // subscribes to; the rest go, one at a time, to the least loaded subscribed member (ties by member id). With equal
        // subscriptions this leaves every member with floor or floor + 1 partitions.
        var keepMax = all.Count / result.Count;
        var taken = new HashSet<(Guid TopicId, int Partition)>();
        foreach (var (memberId, owned) in result.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            if (!previous.TryGetValue(memberId, out var before))
            {
                continue;
            }

            foreach (var tp in before.Order())
            {
                if (owned.Count >= keepMax)
                {
                    break;
                }

                if (partitionCounts.TryGetValue(tp.TopicId, out var count) && tp.Partition < count && subscriptions[memberId].Contains(tp.TopicId) && taken.Add(tp))
                {
                    owned.Add(tp);
                }
            }
        }

        foreach (var tp in all)
        {
            if (taken.Contains(tp))
            {
                continue;
            }

            var target = result.Where(m => subscriptions[m.Key].Contains(tp.TopicId))
                .OrderBy(m => m.Value.Count).ThenBy(m => m.Key, StringComparer.Ordinal).Select(m => m.Key).FirstOrDefault();
            if (target is not null)
            {
                result[target].Add(tp);
            }
        }

        return result;
    }
}
