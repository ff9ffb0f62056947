namespace Tributary.Broker.ShareGroups;

/// <summary>
/// Kafka's <c>simple</c> share assignor, per topic over the members subscribed to it (ordered by member id, so the
/// result depends only on the membership): with at least as many members as partitions, member i gets partition
/// i mod P, so every partition has ⌊M/P⌋ or ⌈M/P⌉ members reading it together; with fewer, partition j goes to member
/// j mod M. Every member subscribed to a topic with partitions gets at least one of them.
/// </summary>
internal static class SimpleShareAssignor
{
    public const string Name = "simple";

    public static Dictionary<string, Dictionary<Guid, int[]>> Assign(
        IReadOnlyCollection<ShareGroupMember> members, IReadOnlyDictionary<string, (Guid Id, int Partitions)> topics)
    {
        var result = members.ToDictionary(m => m.MemberId, _ => new Dictionary<Guid, int[]>(), StringComparer.Ordinal);
        foreach (var (name, (id, partitions)) in topics)
        {
            var subscribed = members.Where(m => m.SubscribedTopicNames.Contains(name, StringComparer.Ordinal))
                .Select(m => m.MemberId).Order(StringComparer.Ordinal).ToList();
            if (subscribed.Count == 0 || partitions == 0)
            {
                continue;
            }

            var owned = subscribed.ToDictionary(m => m, _ => new List<int>(), StringComparer.Ordinal);
            if (subscribed.Count >= partitions)
            {
                for (var i = 0; i < subscribed.Count; i++)
                {
                    owned[subscribed[i]].Add(i % partitions);
                }
            }
            else
            {
                for (var p = 0; p < partitions; p++)
                {
                    owned[subscribed[p % subscribed.Count]].Add(p);
                }
            }

            foreach (var (member, list) in owned)
            {
                result[member][id] = [.. list];
            }
        }

        return result;
    }
}
