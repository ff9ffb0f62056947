using Tributary.Broker.Groups;
using Tributary.Broker.InternalTopics;
using Tributary.Broker.Transactions;
using Tributary.Protocol;

namespace Tributary.Broker.Tests.InternalTopics;

/// <summary>
/// The encoder of the layout Tributary used for its internal topics before Kafka's records (the broker only reads it
/// now, see LegacyOffsetsTopicFormat): the migration tests write a data directory as that release did.
/// </summary>
internal static class LegacyLayoutWriter
{
    private const short OffsetKeyType = 1;
    private const short GroupKeyType = 2;
    private const short ConsumerGroupKeyType = 3;
    private const short ConsumerMemberKeyType = 4;
    private const short ConsumerTargetKeyType = 5;
    private const short OffsetValueVersion = 0;
    private const short GroupValueVersion = 0;
    private const short ConsumerGroupValueVersion = 0;
    private const short ConsumerMemberValueVersion = 0;
    private const short ConsumerTargetValueVersion = 0;

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

    public static byte[] GroupValue(OffsetsTopicFormat.GroupSnapshot group) => InternalRecord.Encode((ref KafkaWriter w) =>
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

    public static byte[] ConsumerGroupValue(OffsetsTopicFormat.ConsumerGroupSnapshot group) => InternalRecord.Encode((ref KafkaWriter w) =>
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

    public static byte[] ConsumerMemberValue(OffsetsTopicFormat.ConsumerMemberMetadata member, OffsetsTopicFormat.ConsumerMemberAssignment assignment) => InternalRecord.Encode((ref KafkaWriter w) =>
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
        w.WriteInt32(assignment.MemberEpoch);
        w.WriteInt32(assignment.PreviousMemberEpoch);
        w.WriteBool(assignment.LeftStatic);
        WritePartitions(ref w, assignment.Assigned);
        WritePartitions(ref w, assignment.PendingRevocation);
    });

    public static byte[] ConsumerTargetValue(IReadOnlyList<(Guid TopicId, int[] Partitions)> target) => InternalRecord.Encode((ref KafkaWriter w) =>
    {
        w.WriteInt16(ConsumerTargetValueVersion);
        WritePartitions(ref w, target);
    });

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
    private static byte[] MemberKey(short type, string group, string memberId) => InternalRecord.Encode((ref KafkaWriter w) =>
    {
        w.WriteInt16(type);
        w.WriteString(group, compact: false);
        w.WriteString(memberId, compact: false);
    });

    public static byte[] TransactionKey(string transactionalId) => InternalRecord.Encode((ref KafkaWriter w) =>
    {
        w.WriteInt16(0);
        w.WriteString(transactionalId, compact: false);
    });

    public static byte[] TransactionValue(TransactionMetadata t) => InternalRecord.Encode((ref KafkaWriter w) =>
    {
        w.WriteInt16(0);
        w.WriteInt64(t.ProducerId);
        w.WriteInt16(t.ProducerEpoch);
        w.WriteInt32(t.TimeoutMs);
        w.WriteInt8((sbyte)t.State);
        w.WriteInt64(t.StartTimeMs);
        w.WriteInt64(t.LastUpdateMs);
        w.WriteInt32(t.Partitions.Count);
        foreach (var (topic, partition) in t.Partitions)
        {
            w.WriteString(topic, compact: false);
            w.WriteInt32(partition);
        }

        w.WriteInt32(t.Groups.Count);
        foreach (var group in t.Groups)
        {
            w.WriteString(group, compact: false);
        }

        w.WriteInt32(t.LegacyPendingOffsets.Count);
        foreach (var ((group, _, _), entry) in t.LegacyPendingOffsets)
        {
            w.WriteString(group, compact: false);
            w.WriteString(entry.Topic, compact: false);
            w.WriteInt32(entry.Partition);
            w.WriteInt64(entry.Offset);
            w.WriteInt32(entry.LeaderEpoch);
            w.WriteNullableString(entry.Metadata, compact: false);
        }
    });
}
