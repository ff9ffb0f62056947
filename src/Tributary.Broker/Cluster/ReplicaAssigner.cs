namespace Tributary.Broker.Cluster;

/// <summary>
/// Places the replicas of new partitions on live brokers as Kafka's assignor does: leaders round-robin from a start
/// index, the other replicas after the leader in broker order; with racks set, brokers are ordered alternating
/// between racks and each replica goes to a rack the partition does not use yet while one is left.
/// </summary>
public static class ReplicaAssigner
{
    /// <summary>
    /// Replicas of partitions [<paramref name="firstPartition"/>, +<paramref name="count"/>): each array starts with the
    /// preferred leader. <paramref name="replicationFactor"/> must be at most the number of brokers.
    /// </summary>
    public static int[][] Assign(IReadOnlyCollection<ClusterBroker> brokers, int firstPartition, int count, int replicationFactor, int startIndex)
    {
        if (replicationFactor < 1 || replicationFactor > brokers.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(replicationFactor), $"replication factor {replicationFactor} with {brokers.Count} brokers");
        }

        var ordered = RackAlternated(brokers);
        var racksUsed = new HashSet<string>(StringComparer.Ordinal);
        var result = new int[count][];
        for (var i = 0; i < count; i++)
        {
            var p = firstPartition + i;
            var leaderIndex = (startIndex + p) % ordered.Count;

            // Kafka shifts the followers of each round of partitions by one more, so a broker's followers spread.
            var shift = ordered.Count == 1 ? 0 : p / ordered.Count % (ordered.Count - 1);
            var replicas = new List<ClusterBroker> { ordered[leaderIndex] };
            racksUsed.Clear();
            if (ordered[leaderIndex].Rack is { } leaderRack)
            {
                racksUsed.Add(leaderRack);
            }

            var allRacks = ordered.Select(b => b.Rack).OfType<string>().Distinct().Count();
            while (replicas.Count < replicationFactor)
            {
                var candidates = Enumerable.Range(1, ordered.Count - 1)
                    .Select(k => ordered[(leaderIndex + (k - 1 + shift) % (ordered.Count - 1) + 1) % ordered.Count])
                    .Where(b => !replicas.Contains(b))
                    .ToList();
                var next = candidates.FirstOrDefault(b => racksUsed.Count < allRacks && b.Rack is not null && !racksUsed.Contains(b.Rack)) ?? candidates[0];
                replicas.Add(next);
                if (next.Rack is not null)
                {
                    racksUsed.Add(next.Rack);
                }
            }

            result[i] = [.. replicas.Select(b => b.NodeId)];
        }

        return result;
    }

    // Brokers by id; with racks, one of each rack in turn (rack names sorted), as Kafka's rack-alternated list.
    private static List<ClusterBroker> RackAlternated(IReadOnlyCollection<ClusterBroker> brokers)
    {
        var byId = brokers.OrderBy(b => b.NodeId).ToList();
        if (byId.All(b => b.Rack is null))
        {
            return byId;
        }

        var racks = byId.GroupBy(b => b.Rack ?? "", StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => new Queue<ClusterBroker>(g)).ToList();
        var result = new List<ClusterBroker>(byId.Count);
        while (result.Count < byId.Count)
        {
            foreach (var rack in racks.Where(r => r.Count > 0))
            {
                result.Add(rack.Dequeue());
            }
        }

        return result;
    }
}
