using Tributary.Protocol;
using Tributary.Protocol.CoordinatorRecords;

namespace Tributary.Broker.ShareGroups;

/// <summary>
/// Share-group membership in <c>__consumer_offsets</c>, in the records Kafka 4.2's group coordinator writes for it:
/// <code>
/// type 10 ShareGroupMemberMetadataKey / …Value v0            a member's subscription, rack and client details
/// type 11 ShareGroupMetadataKey / …Value v0                  the group epoch and the hash of its subscribed topics
/// type 12 ShareGroupTargetAssignmentMetadataKey / …Value v0  the assignment epoch
/// type 13 ShareGroupTargetAssignmentMemberKey / …Value v0    a member's target assignment
/// type 14 ShareGroupCurrentMemberAssignmentKey / …Value v0   a member's epochs and current assignment
/// type 15 ShareGroupStatePartitionMetadataKey / …Value v0    the topics whose share-partition state the group may have
/// </code>
/// A member that leaves or expires is tombstoned (types 14, 13, 10); a deleted group too (types 15, 12, 11). Type 15
/// lists as initialized every partition ever assigned to a member (Tributary's data-partition leader initializes a
/// share partition's state at its first use, so InitializingTopics and DeletingTopics stay empty). Whenever the
/// group changes its group-level records and the records of every member are written again as one batch, so the last
/// record of each key (what compaction keeps) is the state; a group holds at most group.share.max.size members.
/// MetadataHash is Tributary's own hash of the subscribed topics (name, id, partition count): a group loaded with a
/// different hash is reassigned at its next heartbeat, as Kafka does when its hash differs.
/// </summary>
internal static class ShareGroupRecords
{
    /// <summary>The records of a group's current state, and tombstones for <paramref name="removedMembers"/>.</summary>
    public static List<(byte[] Key, byte[]? Value)> Write(ShareGroup group, IEnumerable<string> removedMembers)
    {
        var records = new List<(byte[] Key, byte[]? Value)>();
        foreach (var memberId in removedMembers)
        {
            records.AddRange(MemberTombstones(group.GroupId, memberId));
        }

        records.Add((GroupKey(group.GroupId), CoordinatorRecordSerde.SerializeValue(new ShareGroupMetadataValue { Epoch = group.GroupEpoch, MetadataHash = Hash(group.SubscribedPartitions) }, 0)));
        records.Add((AssignmentEpochKey(group.GroupId), CoordinatorRecordSerde.SerializeValue(new ShareGroupTargetAssignmentMetadataValue { AssignmentEpoch = group.AssignmentEpoch }, 0)));
        records.Add((StatePartitionsKey(group.GroupId), CoordinatorRecordSerde.SerializeValue(new ShareGroupStatePartitionMetadataValue
        {
            InitializedTopics = [.. group.InitializedTopics.Select(t => new ShareGroupStatePartitionMetadataValue.TopicPartitionsInfo
            {
                TopicId = t.Key,
                TopicName = t.Value.Name,
                Partitions = [.. t.Value.Partitions],
            })],
        }, 0)));
        foreach (var member in group.Members.Values)
        {
            records.Add((MemberKey(group.GroupId, member.MemberId), CoordinatorRecordSerde.SerializeValue(new ShareGroupMemberMetadataValue
            {
                RackId = member.RackId,
                ClientId = member.ClientId,
                ClientHost = member.ClientHost,
                SubscribedTopicNames = [.. member.SubscribedTopicNames],
            }, 0)));
            records.Add((TargetKey(group.GroupId, member.MemberId), CoordinatorRecordSerde.SerializeValue(new ShareGroupTargetAssignmentMemberValue
            {
                TopicPartitions = [.. member.Target.Select(kv => new ShareGroupTargetAssignmentMemberValue.TopicPartition { TopicId = kv.Key, Partitions = [.. kv.Value] })],
            }, 0)));

            // Kafka's MemberState 0 (stable): a share group has nothing to revoke.
            records.Add((CurrentKey(group.GroupId, member.MemberId), CoordinatorRecordSerde.SerializeValue(new ShareGroupCurrentMemberAssignmentValue
            {
                MemberEpoch = member.Epoch,
                PreviousMemberEpoch = member.PreviousEpoch,
                State = 0,
                AssignedPartitions = [.. member.Assignment.Select(kv => new ShareGroupCurrentMemberAssignmentValue.TopicPartitions { TopicId = kv.Key, Partitions = [.. kv.Value] })],
            }, 0)));
        }

        return records;
    }

    /// <summary>The tombstones of a deleted group: its members' records, then its group-level ones.</summary>
    public static List<(byte[] Key, byte[]? Value)> Delete(string groupId, IEnumerable<string> memberIds) =>
        [.. memberIds.SelectMany(m => MemberTombstones(groupId, m)), (StatePartitionsKey(groupId), null), (AssignmentEpochKey(groupId), null), (GroupKey(groupId), null)];

    /// <summary>
    /// Replays one record into <paramref name="groups"/>; false when its record type is not a share group's. Throws
    /// <see cref="ProtocolException"/> when the bytes are not the schema's.
    /// </summary>
    public static bool Replay(Dictionary<string, Loaded> groups, ReadOnlyMemory<byte> key, ReadOnlyMemory<byte>? value)
    {
        Loaded Group(string groupId)
        {
            if (!groups.TryGetValue(groupId, out var loaded))
            {
                loaded = new Loaded();
                groups[groupId] = loaded;
            }

            return loaded;
        }

        switch (CoordinatorRecordSerde.ReadRecordType(key.Span))
        {
            case 10:
                {
                    var k = CoordinatorRecordSerde.DeserializeKey<ShareGroupMemberMetadataKey>(key);
                    if (value is { } v)
                    {
                        Group(k.GroupId).Members[k.MemberId] = CoordinatorRecordSerde.DeserializeValue<ShareGroupMemberMetadataValue>(v, out _);
                    }
                    else if (groups.TryGetValue(k.GroupId, out var g))
                    {
                        g.Members.Remove(k.MemberId);
                    }

                    return true;
                }

            case 11:
                {
                    var k = CoordinatorRecordSerde.DeserializeKey<ShareGroupMetadataKey>(key);
                    if (value is { } v)
                    {
                        Group(k.GroupId).Metadata = CoordinatorRecordSerde.DeserializeValue<ShareGroupMetadataValue>(v, out _);
                    }
                    else
                    {
                        groups.Remove(k.GroupId);
                    }

                    return true;
                }

            case 12:
                {
                    var k = CoordinatorRecordSerde.DeserializeKey<ShareGroupTargetAssignmentMetadataKey>(key);
                    if (value is { } v)
                    {
                        Group(k.GroupId).AssignmentEpoch = CoordinatorRecordSerde.DeserializeValue<ShareGroupTargetAssignmentMetadataValue>(v, out _).AssignmentEpoch;
                    }

                    return true;
                }

            case 13:
                {
                    var k = CoordinatorRecordSerde.DeserializeKey<ShareGroupTargetAssignmentMemberKey>(key);
                    if (value is { } v)
                    {
                        Group(k.GroupId).Targets[k.MemberId] = CoordinatorRecordSerde.DeserializeValue<ShareGroupTargetAssignmentMemberValue>(v, out _)
                            .TopicPartitions.ToDictionary(t => t.TopicId, t => t.Partitions.ToArray());
                    }
                    else if (groups.TryGetValue(k.GroupId, out var g))
                    {
                        g.Targets.Remove(k.MemberId);
                    }

                    return true;
                }

            case 14:
                {
                    var k = CoordinatorRecordSerde.DeserializeKey<ShareGroupCurrentMemberAssignmentKey>(key);
                    if (value is { } v)
                    {
                        Group(k.GroupId).Current[k.MemberId] = CoordinatorRecordSerde.DeserializeValue<ShareGroupCurrentMemberAssignmentValue>(v, out _);
                    }
                    else if (groups.TryGetValue(k.GroupId, out var g))
                    {
                        g.Current.Remove(k.MemberId);
                    }

                    return true;
                }

            case 15:
                {
                    var k = CoordinatorRecordSerde.DeserializeKey<ShareGroupStatePartitionMetadataKey>(key);
                    if (value is { } v)
                    {
                        Group(k.GroupId).InitializedTopics = CoordinatorRecordSerde.DeserializeValue<ShareGroupStatePartitionMetadataValue>(v, out _).InitializedTopics;
                    }
                    else if (groups.TryGetValue(k.GroupId, out var g))
                    {
                        g.InitializedTopics = [];
                    }

                    return true;
                }

            default:
                return false;
        }
    }

    /// <summary>
    /// A deterministic 64-bit FNV-1a hash of the subscribed topics (name, id, partition count) in name order; 0 for none.
    /// </summary>
    public static long Hash(IReadOnlyDictionary<string, (Guid Id, int Partitions)> topics)
    {
        if (topics.Count == 0)
        {
            return 0;
        }

        var hash = 14695981039346656037UL;
        void Mix(ReadOnlySpan<byte> bytes)
        {
            foreach (var b in bytes)
            {
                hash = (hash ^ b) * 1099511628211UL;
            }
        }

        foreach (var (name, (id, partitions)) in topics.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            Mix(System.Text.Encoding.UTF8.GetBytes(name));
            Mix(id.ToByteArray());
            Mix(BitConverter.GetBytes(partitions));
        }

        return (long)hash;
    }

    private static List<(byte[] Key, byte[]? Value)> MemberTombstones(string groupId, string memberId) =>
        [(CurrentKey(groupId, memberId), null), (TargetKey(groupId, memberId), null), (MemberKey(groupId, memberId), null)];

    private static byte[] StatePartitionsKey(string groupId) => CoordinatorRecordSerde.SerializeKey(new ShareGroupStatePartitionMetadataKey { GroupId = groupId });

    private static byte[] GroupKey(string groupId) => CoordinatorRecordSerde.SerializeKey(new ShareGroupMetadataKey { GroupId = groupId });

    private static byte[] AssignmentEpochKey(string groupId) => CoordinatorRecordSerde.SerializeKey(new ShareGroupTargetAssignmentMetadataKey { GroupId = groupId });

    private static byte[] MemberKey(string groupId, string memberId) => CoordinatorRecordSerde.SerializeKey(new ShareGroupMemberMetadataKey { GroupId = groupId, MemberId = memberId });

    private static byte[] TargetKey(string groupId, string memberId) => CoordinatorRecordSerde.SerializeKey(new ShareGroupTargetAssignmentMemberKey { GroupId = groupId, MemberId = memberId });

    private static byte[] CurrentKey(string groupId, string memberId) => CoordinatorRecordSerde.SerializeKey(new ShareGroupCurrentMemberAssignmentKey { GroupId = groupId, MemberId = memberId });

    /// <summary>What the log holds of one share group, record by record (later records win).</summary>
    internal sealed class Loaded
    {
        public ShareGroupMetadataValue? Metadata { get; set; }

        public int AssignmentEpoch { get; set; }

        public Dictionary<string, ShareGroupMemberMetadataValue> Members { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, Dictionary<Guid, int[]>> Targets { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, ShareGroupCurrentMemberAssignmentValue> Current { get; } = new(StringComparer.Ordinal);

        public List<ShareGroupStatePartitionMetadataValue.TopicPartitionsInfo> InitializedTopics { get; set; } = [];
    }
}
