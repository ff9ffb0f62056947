using Tributary.Protocol;
using Tributary.Protocol.CoordinatorRecords;

namespace Tributary.Broker.Groups;

/// <summary>
/// The records of <c>__consumer_offsets</c> in Kafka's own format (the coordinator record schemas of Apache Kafka
/// 4.2, framed by <see cref="CoordinatorRecordSerde"/>: an int16 record type before the key, an int16 version before
/// the value, a null value as tombstone), so that lag monitors and <c>kafka-dump-log --offsets-decoder</c> read them.
/// <code>
/// type 1  OffsetCommitKey / OffsetCommitValue v3              one committed offset (Kafka writes v3 without expiry)
/// type 2  GroupMetadataKey / GroupMetadataValue v3            a classic group with its members and assignments
/// type 3  ConsumerGroupMetadataKey / …Value v0                a KIP-848 group's epoch (+ Tributary's assignor tag)
/// type 4  ConsumerGroupPartitionMetadataKey / …Value v0       the partition counts its target assignment came from
/// type 5  ConsumerGroupMemberMetadataKey / …Value v0          a member's subscription and client details
/// type 6  ConsumerGroupTargetAssignmentMetadataKey / …Value   the group's assignment epoch
/// type 7  ConsumerGroupTargetAssignmentMemberKey / …Value     a member's target assignment
/// type 8  ConsumerGroupCurrentMemberAssignmentKey / …Value    a member's epochs and current assignment (epoch -2: left static)
/// </code>
/// The assignor a consumer group uses, which Kafka's schemas have no field for, rides in a tagged field of Tributary's
/// own (tag <see cref="TributaryTag"/>, a compact string in ConsumerGroupMetadataValue), which Kafka's readers skip as
/// unknown. A static member that left is written as Kafka writes it, with member epoch -2; the earlier release marked
/// it with an int8 1 in tag <see cref="TributaryTag"/> of ConsumerGroupCurrentMemberAssignmentValue, still read.
/// Records of other types (share and streams groups, regular
/// expressions) are skipped.
/// </summary>
internal static class OffsetsTopicFormat
{
    /// <summary>The tag of Tributary's own tagged fields: far above Kafka's (0-3 so far), so a future Kafka field never collides.</summary>
    public const int TributaryTag = 10000;

    /// <summary>The value versions Kafka 4.2 writes: OffsetCommitValue v3 (v1 only with an expiry), GroupMetadataValue v3.</summary>
    public const short OffsetValueVersion = 3;
    public const short GroupValueVersion = 3;

    /// <summary>Kafka's LEAVE_GROUP_STATIC_MEMBER_EPOCH, the member epoch it writes for a static member that left.</summary>
    public const int LeftStaticMemberEpoch = -2;

    public static byte[] OffsetKey(string group, string topic, int partition) =>
        CoordinatorRecordSerde.SerializeKey(new OffsetCommitKey { Group = group, Topic = topic, Partition = partition });

    public static byte[] GroupKey(string group) => CoordinatorRecordSerde.SerializeKey(new GroupMetadataKey { Group = group });

    public static byte[] OffsetValue(CommittedOffset offset) => CoordinatorRecordSerde.SerializeValue(
        new OffsetCommitValue { Offset = offset.Offset, LeaderEpoch = offset.LeaderEpoch, Metadata = offset.Metadata, CommitTimestamp = offset.CommitTimestampMs },
        OffsetValueVersion);

    public static byte[] GroupValue(GroupSnapshot group) => CoordinatorRecordSerde.SerializeValue(
        new GroupMetadataValue
        {
            ProtocolType = group.ProtocolType,
            Generation = group.Generation,
            Protocol = group.ProtocolName,
            Leader = group.Leader,
            CurrentStateTimestamp = group.StateTimestampMs,
            Members = [.. group.Members.Select(m => new GroupMetadataValue.MemberMetadata
            {
                MemberId = m.MemberId,
                GroupInstanceId = m.GroupInstanceId,
                ClientId = m.ClientId,
                ClientHost = m.ClientHost,
                RebalanceTimeout = m.RebalanceTimeoutMs,
                SessionTimeout = m.SessionTimeoutMs,
                Subscription = m.Subscription,
                Assignment = m.Assignment,
            })],
        },
        GroupValueVersion);

    /// <summary>The group-level records of a consumer group: its epoch and assignor, partition counts, assignment epoch.</summary>
    public static List<(byte[] Key, byte[]? Value)> ConsumerGroupRecords(string group, ConsumerGroupSnapshot snapshot, Func<Guid, string> topicName) =>
    [
        (ConsumerGroupKey(group), ConsumerGroupValue(new ConsumerGroupMetadata(snapshot.GroupEpoch, snapshot.Assignor))),
        (ConsumerPartitionsKey(group), ConsumerPartitionsValue(snapshot.PartitionCounts, topicName)),
        (ConsumerAssignmentEpochKey(group), ConsumerAssignmentEpochValue(snapshot.AssignmentEpoch)),
    ];

    /// <summary>The tombstones that delete a consumer group's group-level records.</summary>
    public static List<(byte[] Key, byte[]? Value)> ConsumerGroupTombstones(string group) =>
        [(ConsumerGroupKey(group), null), (ConsumerPartitionsKey(group), null), (ConsumerAssignmentEpochKey(group), null)];

    public static byte[] ConsumerGroupKey(string group) => CoordinatorRecordSerde.SerializeKey(new ConsumerGroupMetadataKey { GroupId = group });

    public static byte[] ConsumerPartitionsKey(string group) => CoordinatorRecordSerde.SerializeKey(new ConsumerGroupPartitionMetadataKey { GroupId = group });

    public static byte[] ConsumerAssignmentEpochKey(string group) => CoordinatorRecordSerde.SerializeKey(new ConsumerGroupTargetAssignmentMetadataKey { GroupId = group });

    public static byte[] ConsumerGroupValue(ConsumerGroupMetadata metadata) => CoordinatorRecordSerde.SerializeValue(
        new ConsumerGroupMetadataValue
        {
            Epoch = metadata.GroupEpoch,
            UnknownTaggedFields = [new RawTaggedField(TributaryTag, Encode((ref KafkaWriter w) => w.WriteString(metadata.Assignor, compact: true)))],
        },
        0);

    public static byte[] ConsumerPartitionsValue(IReadOnlyList<(Guid TopicId, int Partitions)> partitionCounts, Func<Guid, string> topicName) => CoordinatorRecordSerde.SerializeValue(
        new ConsumerGroupPartitionMetadataValue
        {
            Topics = [.. partitionCounts.Select(c => new ConsumerGroupPartitionMetadataValue.TopicMetadata { TopicId = c.TopicId, TopicName = topicName(c.TopicId), NumPartitions = c.Partitions })],
        },
        0);

    public static byte[] ConsumerAssignmentEpochValue(int assignmentEpoch) =>
        CoordinatorRecordSerde.SerializeValue(new ConsumerGroupTargetAssignmentMetadataValue { AssignmentEpoch = assignmentEpoch }, 0);

    /// <summary>
    /// The records that rebuild what <paramref name="entries"/> (in log order) end with: the last entry of each record
    /// key, in the order of those last entries, tombstones left out.
    /// </summary>
    public static List<(byte[] Key, byte[] Value)> LiveRecords(IEnumerable<Entry> entries, Func<Guid, string> topicName)
    {
        var records = entries.Select(e => Record(e, topicName)).ToList();
        var last = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < records.Count; i++)
        {
            last[Convert.ToBase64String(records[i].Key)] = i;
        }

        return [.. last.Values.Order().Select(i => records[i]).Where(r => r.Value is not null).Select(r => (r.Key, r.Value!))];
    }

    /// <summary>The record that an entry was read from (a tombstone when the entry is one).</summary>
    public static (byte[] Key, byte[]? Value) Record(Entry entry, Func<Guid, string> topicName) => entry switch
    {
        OffsetEntry o => (OffsetKey(o.Group, o.Topic, o.Partition), o.Offset is { } offset ? OffsetValue(offset) : null),
        GroupEntry g => (GroupKey(g.Group), g.Snapshot is { } snapshot ? GroupValue(snapshot) : null),
        ConsumerGroupEntry g => (ConsumerGroupKey(g.Group), g.Metadata is { } metadata ? ConsumerGroupValue(metadata) : null),
        ConsumerPartitionsEntry p => (ConsumerPartitionsKey(p.Group), p.PartitionCounts is { } counts ? ConsumerPartitionsValue(counts, topicName) : null),
        ConsumerAssignmentEpochEntry e => (ConsumerAssignmentEpochKey(e.Group), e.AssignmentEpoch is { } epoch ? ConsumerAssignmentEpochValue(epoch) : null),
        ConsumerMemberEntry m => (ConsumerMemberKey(m.Group, m.MemberId), m.Metadata is { } metadata ? ConsumerMemberValue(metadata) : null),
        ConsumerAssignmentEntry a => (ConsumerAssignmentKey(a.Group, a.MemberId), a.Assignment is { } assignment ? ConsumerAssignmentValue(assignment) : null),
        ConsumerTargetEntry t => (ConsumerTargetKey(t.Group, t.MemberId), t.Partitions is { } partitions ? ConsumerTargetValue(partitions) : null),
        _ => throw new ArgumentException($"unknown entry {entry.GetType().Name}", nameof(entry)),
    };

    public static byte[] ConsumerMemberKey(string group, string memberId) =>
        CoordinatorRecordSerde.SerializeKey(new ConsumerGroupMemberMetadataKey { GroupId = group, MemberId = memberId });

    public static byte[] ConsumerAssignmentKey(string group, string memberId) =>
        CoordinatorRecordSerde.SerializeKey(new ConsumerGroupCurrentMemberAssignmentKey { GroupId = group, MemberId = memberId });

    public static byte[] ConsumerTargetKey(string group, string memberId) =>
        CoordinatorRecordSerde.SerializeKey(new ConsumerGroupTargetAssignmentMemberKey { GroupId = group, MemberId = memberId });

    public static byte[] ConsumerMemberValue(ConsumerMemberMetadata member) => CoordinatorRecordSerde.SerializeValue(
        new ConsumerGroupMemberMetadataValue
        {
            InstanceId = member.InstanceId,
            RackId = member.RackId,
            ClientId = member.ClientId,
            ClientHost = member.ClientHost,
            SubscribedTopicNames = [.. member.SubscribedTopicNames],
            SubscribedTopicRegex = member.SubscribedTopicRegex.Length > 0 ? member.SubscribedTopicRegex : null,
            RebalanceTimeoutMs = member.RebalanceTimeoutMs,
            ServerAssignor = member.ServerAssignor,
            ClassicMemberMetadata = null,
        },
        0);

    public static byte[] ConsumerAssignmentValue(ConsumerMemberAssignment assignment) => CoordinatorRecordSerde.SerializeValue(
        new ConsumerGroupCurrentMemberAssignmentValue
        {
            // A static member that left is written as Kafka writes it: member epoch -2 (the epoch it left with kept as
            // the previous one, which the member id that takes its place continues from).
            MemberEpoch = assignment.LeftStatic ? LeftStaticMemberEpoch : assignment.MemberEpoch,
            PreviousMemberEpoch = assignment.LeftStatic ? assignment.MemberEpoch : assignment.PreviousMemberEpoch,
            // Kafka's MemberState: 0 stable, 1 unrevoked partitions (waiting for the member to give them up).
            State = assignment.PendingRevocation.Count > 0 ? (sbyte)1 : (sbyte)0,
            AssignedPartitions = [.. assignment.Assigned.Select(t => new ConsumerGroupCurrentMemberAssignmentValue.TopicPartitions { TopicId = t.TopicId, Partitions = [.. t.Partitions] })],
            PartitionsPendingRevocation = [.. assignment.PendingRevocation.Select(t => new ConsumerGroupCurrentMemberAssignmentValue.TopicPartitions { TopicId = t.TopicId, Partitions = [.. t.Partitions] })],
        },
        0);

    public static byte[] ConsumerTargetValue(IReadOnlyList<(Guid TopicId, int[] Partitions)> target) => CoordinatorRecordSerde.SerializeValue(
        new ConsumerGroupTargetAssignmentMemberValue
        {
            TopicPartitions = [.. target.Select(t => new ConsumerGroupTargetAssignmentMemberValue.TopicPartition { TopicId = t.TopicId, Partitions = [.. t.Partitions] })],
        },
        0);

    /// <summary>
    /// Reads one record; null when its record type is one Tributary does not keep. Throws
    /// <see cref="ProtocolException"/> when the bytes are not the schema's.
    /// </summary>
    public static Entry? Decode(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte>? value)
    {
        switch (CoordinatorRecordSerde.ReadRecordType(key.Span))
        {
            // Type 0 is Kafka's legacy offset key (the same fields); Kafka still reads it.
            case 0:
                {
                    var k = CoordinatorRecordSerde.DeserializeKey<LegacyOffsetCommitKey>(key);
                    return new OffsetEntry(k.Group, k.Topic, k.Partition, value is { } v ? Offset(v) : null);
                }

            case 1:
                {
                    var k = CoordinatorRecordSerde.DeserializeKey<OffsetCommitKey>(key);
                    return new OffsetEntry(k.Group, k.Topic, k.Partition, value is { } v ? Offset(v) : null);
                }

            case 2:
                {
                    var k = CoordinatorRecordSerde.DeserializeKey<GroupMetadataKey>(key);
                    return new GroupEntry(k.Group, value is { } v ? Group(v) : null);
                }

            case 3:
                {
                    var k = CoordinatorRecordSerde.DeserializeKey<ConsumerGroupMetadataKey>(key);
                    if (value is not { } v)
                    {
                        return new ConsumerGroupEntry(k.GroupId, null);
                    }

                    var m = CoordinatorRecordSerde.DeserializeValue<ConsumerGroupMetadataValue>(v, out _);
                    var assignor = Tagged(m.UnknownTaggedFields) is { } tagged ? ReadTagged(tagged, (ref KafkaReader r) => r.ReadString(compact: true)) : "";
                    return new ConsumerGroupEntry(k.GroupId, new ConsumerGroupMetadata(m.Epoch, assignor));
                }

            case 4:
                {
                    var k = CoordinatorRecordSerde.DeserializeKey<ConsumerGroupPartitionMetadataKey>(key);
                    return new ConsumerPartitionsEntry(k.GroupId, value is { } v
                        ? [.. CoordinatorRecordSerde.DeserializeValue<ConsumerGroupPartitionMetadataValue>(v, out _).Topics.Select(t => (t.TopicId, t.NumPartitions))]
                        : null);
                }

            case 5:
                {
                    var k = CoordinatorRecordSerde.DeserializeKey<ConsumerGroupMemberMetadataKey>(key);
                    if (value is not { } v)
                    {
                        return new ConsumerMemberEntry(k.GroupId, k.MemberId, null);
                    }

                    var m = CoordinatorRecordSerde.DeserializeValue<ConsumerGroupMemberMetadataValue>(v, out _);
                    return new ConsumerMemberEntry(k.GroupId, k.MemberId, new ConsumerMemberMetadata(m.InstanceId, m.RackId, m.ClientId, m.ClientHost, m.RebalanceTimeoutMs, m.SubscribedTopicNames, m.ServerAssignor, m.SubscribedTopicRegex ?? ""));
                }

            case 6:
                {
                    var k = CoordinatorRecordSerde.DeserializeKey<ConsumerGroupTargetAssignmentMetadataKey>(key);
                    return new ConsumerAssignmentEpochEntry(k.GroupId, value is { } v ? CoordinatorRecordSerde.DeserializeValue<ConsumerGroupTargetAssignmentMetadataValue>(v, out _).AssignmentEpoch : null);
                }

            case 7:
                {
                    var k = CoordinatorRecordSerde.DeserializeKey<ConsumerGroupTargetAssignmentMemberKey>(key);
                    return new ConsumerTargetEntry(k.GroupId, k.MemberId, value is { } v
                        ? [.. CoordinatorRecordSerde.DeserializeValue<ConsumerGroupTargetAssignmentMemberValue>(v, out _).TopicPartitions.Select(t => (t.TopicId, t.Partitions.ToArray()))]
                        : null);
                }

            case 8:
                {
                    var k = CoordinatorRecordSerde.DeserializeKey<ConsumerGroupCurrentMemberAssignmentKey>(key);
                    if (value is not { } v)
                    {
                        return new ConsumerAssignmentEntry(k.GroupId, k.MemberId, null);
                    }

                    var a = CoordinatorRecordSerde.DeserializeValue<ConsumerGroupCurrentMemberAssignmentValue>(v, out _);
                    // Epoch -2 is Kafka's mark of a static member that left; the earlier release's tag 10000 is read too.
                    var leftStatic = a.MemberEpoch == LeftStaticMemberEpoch || (Tagged(a.UnknownTaggedFields) is { Length: 1 } flag && flag[0] == 1);
                    return new ConsumerAssignmentEntry(k.GroupId, k.MemberId, new ConsumerMemberAssignment(
                        a.MemberEpoch == LeftStaticMemberEpoch ? a.PreviousMemberEpoch : a.MemberEpoch,
                        a.PreviousMemberEpoch,
                        leftStatic,
                        [.. a.AssignedPartitions.Select(t => (t.TopicId, t.Partitions.ToArray()))],
                        [.. a.PartitionsPendingRevocation.Select(t => (t.TopicId, t.Partitions.ToArray()))]));
                }

            default:
                return null;
        }
    }

    private static CommittedOffset Offset(ReadOnlyMemory<byte> value)
    {
        var v = CoordinatorRecordSerde.DeserializeValue<OffsetCommitValue>(value, out _);
        return new CommittedOffset(v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp);
    }

    private static GroupSnapshot Group(ReadOnlyMemory<byte> value)
    {
        var g = CoordinatorRecordSerde.DeserializeValue<GroupMetadataValue>(value, out _);
        return new GroupSnapshot(g.ProtocolType, g.Generation, g.Protocol, g.Leader, g.CurrentStateTimestamp, [.. g.Members.Select(m =>
            new MemberSnapshot(m.MemberId, m.GroupInstanceId, m.ClientId, m.ClientHost, m.RebalanceTimeout, m.SessionTimeout, m.Subscription, m.Assignment))]);
    }

    private static byte[]? Tagged(List<RawTaggedField>? fields) => fields?.FirstOrDefault(f => f.Tag == TributaryTag)?.Data;

    private delegate T ReadAction<T>(ref KafkaReader reader);

    private static T ReadTagged<T>(byte[] data, ReadAction<T> read)
    {
        var reader = new KafkaReader(data);
        return read(ref reader);
    }

    private static byte[] Encode(InternalTopics.InternalRecord.WriteAction write) => InternalTopics.InternalRecord.Encode(write);

    internal abstract record Entry(string Group);

    /// <summary>A committed offset, or a tombstone when <see cref="Offset"/> is null.</summary>
    internal sealed record OffsetEntry(string Group, string Topic, int Partition, CommittedOffset? Offset) : Entry(Group);

    /// <summary>A classic group's membership, or a tombstone when <see cref="Snapshot"/> is null.</summary>
    internal sealed record GroupEntry(string Group, GroupSnapshot? Snapshot) : Entry(Group);

    /// <summary>A KIP-848 consumer group's epoch and assignor, or a tombstone (the group was deleted).</summary>
    internal sealed record ConsumerGroupEntry(string Group, ConsumerGroupMetadata? Metadata) : Entry(Group);

    /// <summary>The partition counts of the topics a consumer group's target assignment was computed from, or a tombstone.</summary>
    internal sealed record ConsumerPartitionsEntry(string Group, IReadOnlyList<(Guid TopicId, int Partitions)>? PartitionCounts) : Entry(Group);

    /// <summary>A consumer group's assignment epoch, or a tombstone.</summary>
    internal sealed record ConsumerAssignmentEpochEntry(string Group, int? AssignmentEpoch) : Entry(Group);

    /// <summary>One member of a consumer group, or a tombstone (it left or expired).</summary>
    internal sealed record ConsumerMemberEntry(string Group, string MemberId, ConsumerMemberMetadata? Metadata) : Entry(Group);

    /// <summary>One member's epochs and current assignment, or a tombstone.</summary>
    internal sealed record ConsumerAssignmentEntry(string Group, string MemberId, ConsumerMemberAssignment? Assignment) : Entry(Group);

    /// <summary>One member's target assignment, or a tombstone (the member is gone).</summary>
    internal sealed record ConsumerTargetEntry(string Group, string MemberId, IReadOnlyList<(Guid TopicId, int[] Partitions)>? Partitions) : Entry(Group);

    internal sealed record GroupSnapshot(string ProtocolType, int Generation, string? ProtocolName, string? Leader, long StateTimestampMs, IReadOnlyList<MemberSnapshot> Members);

    internal sealed record MemberSnapshot(string MemberId, string? GroupInstanceId, string ClientId, string ClientHost, int RebalanceTimeoutMs, int SessionTimeoutMs, byte[] Subscription, byte[] Assignment);

    internal sealed record ConsumerGroupMetadata(int GroupEpoch, string Assignor);

    internal sealed record ConsumerGroupSnapshot(int GroupEpoch, int AssignmentEpoch, string Assignor, IReadOnlyList<(Guid TopicId, int Partitions)> PartitionCounts);

    internal sealed record ConsumerMemberMetadata(
        string? InstanceId,
        string? RackId,
        string ClientId,
        string ClientHost,
        int RebalanceTimeoutMs,
        IReadOnlyList<string> SubscribedTopicNames,
        string? ServerAssignor,
        string SubscribedTopicRegex = "");

    internal sealed record ConsumerMemberAssignment(
        int MemberEpoch,
        int PreviousMemberEpoch,
        bool LeftStatic,
        IReadOnlyList<(Guid TopicId, int[] Partitions)> Assigned,
        IReadOnlyList<(Guid TopicId, int[] Partitions)> PendingRevocation);
}
