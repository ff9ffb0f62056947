using Tributary.Protocol;

namespace Tributary.Broker.Groups;

/// <summary>
/// Reads the layout of <c>__consumer_offsets</c> that Tributary wrote before it used Kafka's records (see
/// <see cref="OffsetsTopicFormat"/>), so a data directory of that release can be opened and rewritten once
/// (<see cref="InternalTopics.InternalTopic"/> migrates it). Nothing writes this layout any more. Built from Kafka's
/// non-compact primitives: big-endian integers, strings as int16 length + UTF-8 (-1 = null), bytes as int32 length +
/// raw bytes, uuids as 16 bytes.
/// <code>
/// offset key          (type 1): int16 1, string group, string topic, int32 partition
/// group key           (type 2): int16 2, string group
/// consumer group key  (type 3): int16 3, string group
/// consumer member key (type 4): int16 4, string group, string member id
/// consumer target key (type 5): int16 5, string group, string member id
/// </code>
/// Values start with an int16 value version, always 0; a null value is a tombstone:
/// <code>
/// offset value v0: int16 0, int64 offset, int32 leader epoch, nullable string metadata, int64 commit timestamp ms
/// group value  v0: int16 0, string protocol type, int32 generation, nullable string protocol name,
///                  nullable string leader, int64 state timestamp ms, int32 member count, then per member:
///                  string member id, nullable string group instance id, string client id, string client host,
///                  int32 rebalance timeout ms, int32 session timeout ms, bytes subscription, bytes assignment
/// consumer group value v0:  int16 0, int32 group epoch, int32 assignment epoch, string assignor, int32 topic count,
///                           then per subscribed topic: uuid topic id, int32 partition count
/// consumer member value v0: int16 0, nullable string instance id, nullable string rack id, string client id,
///                           string client host, int32 rebalance timeout ms, int32 topic count, then per subscribed
///                           topic: string name; nullable string server assignor, int32 member epoch,
///                           int32 previous member epoch, bool left static, partitions assigned, partitions pending
///                           revocation
/// consumer target value v0: int16 0, partitions
/// partitions: int32 topic count, then per topic: uuid topic id, int32 partition count, int32 partition...
/// </code>
/// A consumer group or member record becomes the several entries Kafka's records split it into.
/// </summary>
internal static class LegacyOffsetsTopicFormat
{
    private const short OffsetKeyType = 1;
    private const short GroupKeyType = 2;
    private const short ConsumerGroupKeyType = 3;
    private const short ConsumerMemberKeyType = 4;
    private const short ConsumerTargetKeyType = 5;
    private const short ValueVersion = 0;

    /// <summary>Reads one record as the entries of Kafka's format; empty when the key type or value version is unknown.</summary>
    public static IEnumerable<OffsetsTopicFormat.Entry> Decode(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte>? value)
    {
        var k = new KafkaReader(key);
        var type = k.ReadInt16();
        var group = type is >= OffsetKeyType and <= ConsumerTargetKeyType ? k.ReadString(compact: false) : null;
        var v = value is { } bytes ? new KafkaReader(bytes) : default;
        var version = value is null ? ValueVersion : v.ReadInt16();
        if (group is null || version != ValueVersion)
        {
            return [];
        }

        switch (type)
        {
            case OffsetKeyType:
                {
                    var topic = k.ReadString(compact: false);
                    var partition = k.ReadInt32();
                    return [new OffsetsTopicFormat.OffsetEntry(group, topic, partition, value is null ? null
                        : new CommittedOffset(v.ReadInt64(), v.ReadInt32(), v.ReadNullableString(compact: false), v.ReadInt64()))];
                }

            case GroupKeyType:
                return [new OffsetsTopicFormat.GroupEntry(group, value is null ? null : ReadGroup(ref v, group))];
            case ConsumerGroupKeyType:
                {
                    var g = value is null ? null : ReadConsumerGroup(ref v, group);
                    return
                    [
                        new OffsetsTopicFormat.ConsumerGroupEntry(group, g is null ? null : new OffsetsTopicFormat.ConsumerGroupMetadata(g.GroupEpoch, g.Assignor)),
                        new OffsetsTopicFormat.ConsumerPartitionsEntry(group, g?.PartitionCounts),
                        new OffsetsTopicFormat.ConsumerAssignmentEpochEntry(group, g?.AssignmentEpoch),
                    ];
                }

            case ConsumerMemberKeyType:
                {
                    var memberId = k.ReadString(compact: false);
                    return value is null
                        ? [new OffsetsTopicFormat.ConsumerMemberEntry(group, memberId, null), new OffsetsTopicFormat.ConsumerAssignmentEntry(group, memberId, null)]
                        : ReadConsumerMember(ref v, group, memberId);
                }

            case ConsumerTargetKeyType:
                {
                    var memberId = k.ReadString(compact: false);
                    return [new OffsetsTopicFormat.ConsumerTargetEntry(group, memberId, value is null ? null : ReadPartitions(ref v, group))];
                }

            default:
                return [];
        }
    }

    private static OffsetsTopicFormat.GroupSnapshot ReadGroup(ref KafkaReader v, string group)
    {
        var protocolType = v.ReadString(compact: false);
        var generation = v.ReadInt32();
        var protocolName = v.ReadNullableString(compact: false);
        var leader = v.ReadNullableString(compact: false);
        var stateTimestampMs = v.ReadInt64();
        var count = ReadCount(ref v, group, "members");
        var members = new List<OffsetsTopicFormat.MemberSnapshot>(count);
        for (var i = 0; i < count; i++)
        {
            members.Add(new OffsetsTopicFormat.MemberSnapshot(
                v.ReadString(compact: false),
                v.ReadNullableString(compact: false),
                v.ReadString(compact: false),
                v.ReadString(compact: false),
                v.ReadInt32(),
                v.ReadInt32(),
                v.ReadNullableBytes(compact: false) ?? [],
                v.ReadNullableBytes(compact: false) ?? []));
        }

        return new OffsetsTopicFormat.GroupSnapshot(protocolType, generation, protocolName, leader, stateTimestampMs, members);
    }

    private static OffsetsTopicFormat.ConsumerGroupSnapshot ReadConsumerGroup(ref KafkaReader v, string group)
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

        return new OffsetsTopicFormat.ConsumerGroupSnapshot(groupEpoch, assignmentEpoch, assignor, counts);
    }

    private static OffsetsTopicFormat.Entry[] ReadConsumerMember(ref KafkaReader v, string group, string memberId)
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

        var metadata = new OffsetsTopicFormat.ConsumerMemberMetadata(instanceId, rackId, clientId, clientHost, rebalanceTimeoutMs, topics, v.ReadNullableString(compact: false));
        var assignment = new OffsetsTopicFormat.ConsumerMemberAssignment(v.ReadInt32(), v.ReadInt32(), v.ReadBool(), ReadPartitions(ref v, group), ReadPartitions(ref v, group));
        return [new OffsetsTopicFormat.ConsumerMemberEntry(group, memberId, metadata), new OffsetsTopicFormat.ConsumerAssignmentEntry(group, memberId, assignment)];
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
}
