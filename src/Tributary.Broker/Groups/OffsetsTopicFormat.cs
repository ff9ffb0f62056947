using Tributary.Broker.InternalTopics;
using Tributary.Protocol;

namespace Tributary.Broker.Groups;

/// <summary>
/// The key/value encoding of the records in <c>__consumer_offsets</c>. Tributary's own layout (not Kafka's), built
/// from Kafka's non-compact primitives: big-endian integers, strings as int16 length + UTF-8 (-1 = null), bytes as
/// int32 length + raw bytes, uuids as 16 bytes. Every number here is on disk and fixed forever
/// (OffsetsTopicFormatTests guard them); a new layout takes a new version number and the reader keeps understanding
/// the old ones.
///
/// Keys start with an int16 key type, so compaction keeps the latest record per key:
/// <code>
/// offset key          (type 1): int16 1, string group, string topic, int32 partition
/// group key           (type 2): int16 2, string group
/// consumer group key  (type 3): int16 3, string group
/// consumer member key (type 4): int16 4, string group, string member id
/// consumer target key (type 5): int16 5, string group, string member id
/// </code>
/// Values start with an int16 value version; a null value is a tombstone (the offset, group or member is gone):
/// <code>
/// offset value v0: int16 0, int64 offset, int32 leader epoch, nullable string metadata, int64 commit timestamp ms
/// group value  v0: int16 0, string protocol type, int32 generation, nullable string protocol name,
///                  nullable string leader, int64 state timestamp ms, int32 member count, then per member:
///                  string member id, nullable string group instance id, string client id, string client host,
///                  int32 rebalance timeout ms, int32 session timeout ms, bytes subscription (the member's metadata
///                  for the selected protocol), bytes assignment
/// consumer group value v0:  int16 0, int32 group epoch, int32 assignment epoch, string assignor, int32 topic count,
///                           then per subscribed topic: uuid topic id, int32 partition count (what the target
///                           assignment was computed from)
/// consumer member value v0: int16 0, nullable string instance id, nullable string rack id, string client id,
///                           string client host, int32 rebalance timeout ms, int32 topic count, then per subscribed
///                           topic: string name; nullable string server assignor, int32 member epoch,
///                           int32 previous member epoch, bool left static (epoch -2, keeping its assignment),
///                           partitions assigned, partitions pending revocation
/// consumer target value v0: int16 0, partitions (the member's target assignment at the group's assignment epoch)
/// partitions: int32 topic count, then per topic: uuid topic id, int32 partition count, int32 partition...
/// </code>
/// </summary>
internal static class OffsetsTopicFormat
{
    public const short OffsetKeyType = 1;
    public const short GroupKeyType = 2;
    public const short ConsumerGroupKeyType = 3;
    public const short ConsumerMemberKeyType = 4;
    public const short ConsumerTargetKeyType = 5;
    public const short OffsetValueVersion = 0;
    public const short GroupValueVersion = 0;
    public const short ConsumerGroupValueVersion = 0;
    public const short ConsumerMemberValueVersion = 0;
    public const short ConsumerTargetValueVersion = 0;

    public static byte[] OffsetKey(string group, string topic, int partition) => InternalRecord.Encode((ref KafkaWriter w) =>
    {
        w.WriteInt16(OffsetKeyType);
        w.WriteString(group, compact: false);
        w.WriteString(topic, compact: false);
        w.WriteInt32(partition);
    });

    public static byte[] GroupKey(string group) => InternalRecord.Encode((ref KafkaWriter w) =>
    {
        w.WriteInt16(GroupKeyType);
        w.WriteString(group, compact: false);
    });

    public static byte[] ConsumerGroupKey(string group) => InternalRecord.Encode((ref KafkaWriter w) =>
    {
        w.WriteInt16(ConsumerGroupKeyType);
        w.WriteString(group, compact: false);
    });

    public static byte[] ConsumerMemberKey(string group, string memberId) => MemberKey(ConsumerMemberKeyType, group, memberId);

    public static byte[] ConsumerTargetKey(string group, string memberId) => MemberKey(ConsumerTargetKeyType, group, memberId);

    public static byte[] OffsetValue(CommittedOffset offset) => InternalRecord.Encode((ref KafkaWriter w) =>
    {
        w.WriteInt16(OffsetValueVersion);
        w.WriteInt64(offset.Offset);
        w.WriteInt32(offset.LeaderEpoch);
        w.WriteNullableString(offset.Metadata, compact: false);
        w.WriteInt64(offset.CommitTimestampMs);
    });

    public static byte[] GroupValue(GroupSnapshot group) => InternalRecord.Encode((ref KafkaWriter w) =>
    {
        w.WriteInt16(GroupValueVersion);
        w.WriteString(group.ProtocolType, compact: false);
        w.WriteInt32(group.Generation);
        w.WriteNullableString(group.ProtocolName, compact: false);
        w.WriteNullableString(group.Leader, compact: false);
        w.WriteInt64(group.StateTimestampMs);
        w.WriteInt32(group.Members.Count);
        foreach (var m in group.Members)
        {
            w.WriteString(m.MemberId, compact: false);
            w.WriteNullableString(m.GroupInstanceId, compact: false);
            w.WriteString(m.ClientId, compact: false);
            w.WriteString(m.ClientHost, compact: false);
            w.WriteInt32(m.RebalanceTimeoutMs);
            w.WriteInt32(m.SessionTimeoutMs);
            w.WriteNullableBytes(m.Subscription, compact: false);
            w.WriteNullableBytes(m.Assignment, compact: false);
        }
    });

    public static byte[] ConsumerGroupValue(ConsumerGroupSnapshot group) => InternalRecord.Encode((ref KafkaWriter w) =>
    {
        w.WriteInt16(ConsumerGroupValueVersion);
        w.WriteInt32(group.GroupEpoch);
        w.WriteInt32(group.AssignmentEpoch);
        w.WriteString(group.Assignor, compact: false);
        w.WriteInt32(group.PartitionCounts.Count);
        foreach (var (topicId, partitions) in group.PartitionCounts)
        {
            w.WriteUuid(topicId);
            w.WriteInt32(partitions);
        }
    });

    public static byte[] ConsumerMemberValue(ConsumerMemberSnapshot member) => InternalRecord.Encode((ref KafkaWriter w) =>
    {
        w.WriteInt16(ConsumerMemberValueVersion);
        w.WriteNullableString(member.InstanceId, compact: false);
        w.WriteNullableString(member.RackId, compact: false);
        w.WriteString(member.ClientId, compact: false);
        w.WriteString(member.ClientHost, compact: false);
        w.WriteInt32(member.RebalanceTimeoutMs);
        w.WriteInt32(member.SubscribedTopicNames.Count);
        foreach (var topic in member.SubscribedTopicNames)
        {
            w.WriteString(topic, compact: false);
        }

        w.WriteNullableString(member.ServerAssignor, compact: false);
        w.WriteInt32(member.MemberEpoch);
        w.WriteInt32(member.PreviousMemberEpoch);
        w.WriteBool(member.LeftStatic);
        WritePartitions(ref w, member.Assigned);
        WritePartitions(ref w, member.PendingRevocation);
    });

    public static byte[] ConsumerTargetValue(IReadOnlyList<(Guid TopicId, int[] Partitions)> target) => InternalRecord.Encode((ref KafkaWriter w) =>
    {
        w.WriteInt16(ConsumerTargetValueVersion);
        WritePartitions(ref w, target);
    });

    /// <summary>Reads one record; null when the key type or value version is one this build does not know.</summary>
    public static Entry? Decode(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte>? value)
    {
        var k = new KafkaReader(key);
        var type = k.ReadInt16();
        var group = type is >= OffsetKeyType and <= ConsumerTargetKeyType ? k.ReadString(compact: false) : null;
        var v = value is { } bytes ? new KafkaReader(bytes) : default;
        var version = value is null ? (short)-1 : v.ReadInt16();
        switch (type)
        {
            case OffsetKeyType:
                {
                    var topic = k.ReadString(compact: false);
                    var partition = k.ReadInt32();
                    return value is null ? new OffsetEntry(group!, topic, partition, null)
                        : version == OffsetValueVersion ? new OffsetEntry(group!, topic, partition, new CommittedOffset(v.ReadInt64(), v.ReadInt32(), v.ReadNullableString(compact: false), v.ReadInt64()))
                        : null;
                }

            case GroupKeyType:
                return value is null ? new GroupEntry(group!, null)
                    : version == GroupValueVersion ? new GroupEntry(group!, ReadGroup(ref v, group!))
                    : null;
            case ConsumerGroupKeyType:
                return value is null ? new ConsumerGroupEntry(group!, null)
                    : version == ConsumerGroupValueVersion ? new ConsumerGroupEntry(group!, ReadConsumerGroup(ref v, group!))
                    : null;
            case ConsumerMemberKeyType:
                {
                    var memberId = k.ReadString(compact: false);
                    return value is null ? new ConsumerMemberEntry(group!, memberId, null)
                        : version == ConsumerMemberValueVersion ? new ConsumerMemberEntry(group!, memberId, ReadConsumerMember(ref v, group!))
                        : null;
                }

            case ConsumerTargetKeyType:
                {
                    var memberId = k.ReadString(compact: false);
                    return value is null ? new ConsumerTargetEntry(group!, memberId, null)
                        : version == ConsumerTargetValueVersion ? new ConsumerTargetEntry(group!, memberId, ReadPartitions(ref v, group!))
                        : null;
                }

            default:
                return null;
        }
    }

    private static GroupSnapshot ReadGroup(ref KafkaReader v, string group)
    {
        var protocolType = v.ReadString(compact: false);
        var generation = v.ReadInt32();
        var protocolName = v.ReadNullableString(compact: false);
        var leader = v.ReadNullableString(compact: false);
        var stateTimestampMs = v.ReadInt64();
        var count = ReadCount(ref v, group, "members");
        var members = new List<MemberSnapshot>(count);
        for (var i = 0; i < count; i++)
        {
            members.Add(new MemberSnapshot(
                v.ReadString(compact: false),
                v.ReadNullableString(compact: false),
                v.ReadString(compact: false),
                v.ReadString(compact: false),
                v.ReadInt32(),
                v.ReadInt32(),
                v.ReadNullableBytes(compact: false) ?? [],
                v.ReadNullableBytes(compact: false) ?? []));
        }

        return new GroupSnapshot(protocolType, generation, protocolName, leader, stateTimestampMs, members);
    }

    private static ConsumerGroupSnapshot ReadConsumerGroup(ref KafkaReader v, string group)
    {
        var groupEpoch = v.ReadInt32();
        var assignmentEpoch = v.ReadInt32();
        var assignor = v.ReadString(compact: false);
        var count = ReadCount(ref v, group, "topics");
        var counts = new List<(Guid TopicId, int Partitions)>(count);
        for (var i = 0; i < count; i++)
        {
            counts.Add((v.ReadUuid(), v.ReadInt32()));
        }

        return new ConsumerGroupSnapshot(groupEpoch, assignmentEpoch, assignor, counts);
    }

    private static ConsumerMemberSnapshot ReadConsumerMember(ref KafkaReader v, string group)
    {
        var instanceId = v.ReadNullableString(compact: false);
        var rackId = v.ReadNullableString(compact: false);
        var clientId = v.ReadString(compact: false);
        var clientHost = v.ReadString(compact: false);
        var rebalanceTimeoutMs = v.ReadInt32();
        var count = ReadCount(ref v, group, "subscribed topics");
        var topics = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            topics.Add(v.ReadString(compact: false));
        }

        return new ConsumerMemberSnapshot(
            instanceId,
            rackId,
            clientId,
            clientHost,
            rebalanceTimeoutMs,
            topics,
            v.ReadNullableString(compact: false),
            v.ReadInt32(),
            v.ReadInt32(),
            v.ReadBool(),
            ReadPartitions(ref v, group),
            ReadPartitions(ref v, group));
    }

    private static void WritePartitions(ref KafkaWriter w, IReadOnlyList<(Guid TopicId, int[] Partitions)> partitions)
    {
        w.WriteInt32(partitions.Count);
        foreach (var (topicId, numbers) in partitions)
        {
            w.WriteUuid(topicId);
            w.WriteInt32(numbers.Length);
            foreach (var number in numbers)
            {
                w.WriteInt32(number);
            }
        }
    }

    private static List<(Guid TopicId, int[] Partitions)> ReadPartitions(ref KafkaReader v, string group)
    {
        var count = ReadCount(ref v, group, "topics");
        var topics = new List<(Guid TopicId, int[] Partitions)>(count);
        for (var i = 0; i < count; i++)
        {
            var topicId = v.ReadUuid();
            var partitions = new int[ReadCount(ref v, group, "partitions")];
            for (var p = 0; p < partitions.Length; p++)
            {
                partitions[p] = v.ReadInt32();
            }

            topics.Add((topicId, partitions));
        }

        return topics;
    }

    /// <summary>A count that cannot be larger than the bytes left (each element takes at least one): a corrupt record fails here, not in an allocation.</summary>
    private static int ReadCount(ref KafkaReader v, string group, string what)
    {
        var count = v.ReadInt32();
        if (count < 0 || count > v.Remaining)
        {
            throw new ProtocolException($"group {group} record declares {count} {what}");
        }

        return count;
    }

    private static byte[] MemberKey(short type, string group, string memberId) => InternalRecord.Encode((ref KafkaWriter w) =>
    {
        w.WriteInt16(type);
        w.WriteString(group, compact: false);
        w.WriteString(memberId, compact: false);
    });

    internal abstract record Entry(string Group);

    /// <summary>A committed offset, or a tombstone when <see cref="Offset"/> is null.</summary>
    internal sealed record OffsetEntry(string Group, string Topic, int Partition, CommittedOffset? Offset) : Entry(Group);

    /// <summary>A classic group's membership, or a tombstone when <see cref="Snapshot"/> is null.</summary>
    internal sealed record GroupEntry(string Group, GroupSnapshot? Snapshot) : Entry(Group);

    /// <summary>A KIP-848 consumer group's epochs and assignor, or a tombstone (the group was deleted).</summary>
    internal sealed record ConsumerGroupEntry(string Group, ConsumerGroupSnapshot? Snapshot) : Entry(Group);

    /// <summary>One member of a consumer group, or a tombstone (it left or expired).</summary>
    internal sealed record ConsumerMemberEntry(string Group, string MemberId, ConsumerMemberSnapshot? Snapshot) : Entry(Group);

    /// <summary>One member's target assignment, or a tombstone (the member is gone).</summary>
    internal sealed record ConsumerTargetEntry(string Group, string MemberId, IReadOnlyList<(Guid TopicId, int[] Partitions)>? Partitions) : Entry(Group);

    internal sealed record GroupSnapshot(string ProtocolType, int Generation, string? ProtocolName, string? Leader, long StateTimestampMs, IReadOnlyList<MemberSnapshot> Members);

    internal sealed record MemberSnapshot(string MemberId, string? GroupInstanceId, string ClientId, string ClientHost, int RebalanceTimeoutMs, int SessionTimeoutMs, byte[] Subscription, byte[] Assignment);

    internal sealed record ConsumerGroupSnapshot(int GroupEpoch, int AssignmentEpoch, string Assignor, IReadOnlyList<(Guid TopicId, int Partitions)> PartitionCounts);

    internal sealed record ConsumerMemberSnapshot(
        string? InstanceId,
        string? RackId,
        string ClientId,
        string ClientHost,
        int RebalanceTimeoutMs,
        IReadOnlyList<string> SubscribedTopicNames,
        string? ServerAssignor,
        int MemberEpoch,
        int PreviousMemberEpoch,
        bool LeftStatic,
        IReadOnlyList<(Guid TopicId, int[] Partitions)> Assigned,
        IReadOnlyList<(Guid TopicId, int[] Partitions)> PendingRevocation);
}
