using System.Buffers;
using Tributary.Protocol;

namespace Tributary.Broker.Groups;

/// <summary>
/// The key/value encoding of the records in <c>__consumer_offsets</c>. Tributary's own layout (not Kafka's), built
/// from Kafka's non-compact primitives: big-endian integers, strings as int16 length + UTF-8 (-1 = null), bytes as
/// int32 length + raw bytes. Every number here is on disk and fixed forever (OffsetsTopicFormatTests guard them);
/// a new layout takes a new version number and the reader keeps understanding the old ones.
///
/// Keys start with an int16 key type, so compaction keeps the latest record per key:
/// <code>
/// offset key  (type 1): int16 1, string group, string topic, int32 partition
/// group key   (type 2): int16 2, string group
/// </code>
/// Values start with an int16 value version; a null value is a tombstone (the offset or the group was deleted):
/// <code>
/// offset value v0: int16 0, int64 offset, int32 leader epoch, nullable string metadata, int64 commit timestamp ms
/// group value  v0: int16 0, string protocol type, int32 generation, nullable string protocol name,
///                  nullable string leader, int64 state timestamp ms, int32 member count, then per member:
///                  string member id, nullable string group instance id, string client id, string client host,
///                  int32 rebalance timeout ms, int32 session timeout ms, bytes subscription (the member's metadata
///                  for the selected protocol), bytes assignment
/// </code>
/// </summary>
internal static class OffsetsTopicFormat
{
    public const short OffsetKeyType = 1;
    public const short GroupKeyType = 2;
    public const short OffsetValueVersion = 0;
    public const short GroupValueVersion = 0;

    public static byte[] OffsetKey(string group, string topic, int partition) => Encode((ref KafkaWriter w) =>
    {
        w.WriteInt16(OffsetKeyType);
        w.WriteString(group, compact: false);
        w.WriteString(topic, compact: false);
        w.WriteInt32(partition);
    });

    public static byte[] GroupKey(string group) => Encode((ref KafkaWriter w) =>
    {
        w.WriteInt16(GroupKeyType);
        w.WriteString(group, compact: false);
    });

    public static byte[] OffsetValue(CommittedOffset offset) => Encode((ref KafkaWriter w) =>
    {
        w.WriteInt16(OffsetValueVersion);
        w.WriteInt64(offset.Offset);
        w.WriteInt32(offset.LeaderEpoch);
        w.WriteNullableString(offset.Metadata, compact: false);
        w.WriteInt64(offset.CommitTimestampMs);
    });

    public static byte[] GroupValue(GroupSnapshot group) => Encode((ref KafkaWriter w) =>
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

    /// <summary>Reads one record; null when the key type or value version is one this build does not know.</summary>
    public static Entry? Decode(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte>? value)
    {
        var k = new KafkaReader(key);
        var type = k.ReadInt16();
        switch (type)
        {
            case OffsetKeyType:
            {
                var group = k.ReadString(compact: false);
                var topic = k.ReadString(compact: false);
                var partition = k.ReadInt32();
                if (value is null)
                {
                    return new OffsetEntry(group, topic, partition, null);
                }

                var v = new KafkaReader(value.Value);
                if (v.ReadInt16() != OffsetValueVersion)
                {
                    return null;
                }

                var offset = new CommittedOffset(v.ReadInt64(), v.ReadInt32(), v.ReadNullableString(compact: false), v.ReadInt64());
                return new OffsetEntry(group, topic, partition, offset);
            }

            case GroupKeyType:
            {
                var group = k.ReadString(compact: false);
                if (value is null)
                {
                    return new GroupEntry(group, null);
                }

                var v = new KafkaReader(value.Value);
                if (v.ReadInt16() != GroupValueVersion)
                {
                    return null;
                }

                var protocolType = v.ReadString(compact: false);
                var generation = v.ReadInt32();
                var protocolName = v.ReadNullableString(compact: false);
                var leader = v.ReadNullableString(compact: false);
                var stateTimestampMs = v.ReadInt64();
                var count = v.ReadInt32();
                if (count < 0 || count > v.Remaining)
                {
                    throw new ProtocolException($"group {group} record declares {count} members");
                }

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

                return new GroupEntry(group, new GroupSnapshot(protocolType, generation, protocolName, leader, stateTimestampMs, members));
            }

            default:
                return null;
        }
    }

    private delegate void WriteAction(ref KafkaWriter writer);

    private static byte[] Encode(WriteAction write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        write(ref writer);
        return buffer.WrittenSpan.ToArray();
    }

    internal abstract record Entry(string Group);

    /// <summary>A committed offset, or a tombstone when <see cref="Offset"/> is null.</summary>
    internal sealed record OffsetEntry(string Group, string Topic, int Partition, CommittedOffset? Offset) : Entry(Group);

    /// <summary>A group's membership, or a tombstone when <see cref="Snapshot"/> is null.</summary>
    internal sealed record GroupEntry(string Group, GroupSnapshot? Snapshot) : Entry(Group);

    internal sealed record GroupSnapshot(string ProtocolType, int Generation, string? ProtocolName, string? Leader, long StateTimestampMs, IReadOnlyList<MemberSnapshot> Members);

    internal sealed record MemberSnapshot(string MemberId, string? GroupInstanceId, string ClientId, string ClientHost, int RebalanceTimeoutMs, int SessionTimeoutMs, byte[] Subscription, byte[] Assignment);
}
