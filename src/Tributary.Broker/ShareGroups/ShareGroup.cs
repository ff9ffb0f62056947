namespace Tributary.Broker.ShareGroups;

/// <summary>
/// A share group's membership (KIP-932): members, the group epoch (bumped when a member joins or leaves or the
/// subscribed partitions change) and the assignment computed at that epoch. Guarded by the coordinator's lock.
/// </summary>
internal sealed class ShareGroup(string groupId)
{
    public string GroupId { get; } = groupId;

    public int GroupEpoch { get; set; }

    public int AssignmentEpoch { get; set; }

    public SortedDictionary<string, ShareGroupMember> Members { get; } = new(StringComparer.Ordinal);

    /// <summary>The subscribed topics (name → id, partition count) the assignment was computed from.</summary>
    public IReadOnlyDictionary<string, (Guid Id, int Partitions)> SubscribedPartitions { get; set; } = new Dictionary<string, (Guid, int)>();

    /// <summary>
    /// The partitions of each topic (id → name, partitions) that were ever assigned to a member, whose share-partition
    /// state may exist: what DeleteGroups deletes (Kafka's ShareGroupStatePartitionMetadata "initialized topics").
    /// </summary>
    public SortedDictionary<Guid, (string Name, SortedSet<int> Partitions)> InitializedTopics { get; } = [];

    /// <summary>Kafka's share group states: Empty without members, else Stable (no reconciliation is needed).</summary>
    public string State => Members.Count == 0 ? "Empty" : "Stable";

    /// <summary>Every topic a member subscribes to.</summary>
    public IEnumerable<string> SubscribedTopicNames => Members.Values.SelectMany(m => m.SubscribedTopicNames).Distinct(StringComparer.Ordinal);

    /// <summary>Bumps the group epoch and computes every member's target assignment at it.</summary>
    public void Reassign(IReadOnlyDictionary<string, (Guid Id, int Partitions)> topics)
    {
        GroupEpoch++;
        AssignmentEpoch = GroupEpoch;
        SubscribedPartitions = topics;
        var assignment = SimpleShareAssignor.Assign(Members.Values, topics);
        foreach (var member in Members.Values)
        {
            member.Target = assignment[member.MemberId];
        }

        if (Members.Count > 0)
        {
            foreach (var (name, (id, partitions)) in topics)
            {
                if (!InitializedTopics.TryGetValue(id, out var known))
                {
                    known = (name, []);
                    InitializedTopics[id] = known;
                }

                known.Partitions.UnionWith(Enumerable.Range(0, partitions));
            }
        }
    }
}
