using Tributary.Broker.Groups;
using Tributary.Broker.InternalTopics;
using Tributary.Protocol;

namespace Tributary.Broker.Transactions;

/// <summary>
/// The key/value encoding of <c>__transaction_state</c> records. Tributary's own layout (not Kafka's), built from
/// Kafka's non-compact primitives: big-endian integers, strings as int16 length + UTF-8 (-1 = null). Every number
/// here is on disk and fixed forever (TransactionStateFormatTests guard them); a new layout takes a new version and
/// the reader keeps understanding the old ones. The latest record of a transactional id wins; a null value would be a
/// tombstone (transactional.id.expiration.ms is not implemented, so none is written yet).
/// <code>
/// key   v0: int16 0, string transactional id
/// value v0: int16 0, int64 producer id, int16 producer epoch, int32 timeout ms, int8 state (TransactionState),
///           int64 transaction start ms (-1 = none), int64 last update ms,
///           int32 n, n × (string topic, int32 partition),               -- partitions in the transaction
///           int32 n, n × string group,                                  -- groups added with AddOffsetsToTxn
///           int32 n, n × (string group, string topic, int32 partition,  -- offsets sent with TxnOffsetCommit
///                         int64 offset, int32 leader epoch, nullable string metadata)
/// </code>
/// Pending offsets are in the record so that a transaction found in PrepareCommit after a crash can still apply them.
/// </summary>
internal static class TransactionStateFormat
{
    public const short KeyVersion = 0;
    public const short ValueVersion = 0;

    public static byte[] Key(string transactionalId) => InternalRecord.Encode((ref KafkaWriter w) =>
    {
        w.WriteInt16(KeyVersion);
        w.WriteString(transactionalId, compact: false);
    });

    public static byte[] Value(TransactionMetadata t) => InternalRecord.Encode((ref KafkaWriter w) =>
    {
        w.WriteInt16(ValueVersion);
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

        w.WriteInt32(t.PendingOffsets.Count);
        foreach (var ((group, _, _), entry) in t.PendingOffsets)
        {
            w.WriteString(group, compact: false);
            w.WriteString(entry.Topic, compact: false);
            w.WriteInt32(entry.Partition);
            w.WriteInt64(entry.Offset);
            w.WriteInt32(entry.LeaderEpoch);
            w.WriteNullableString(entry.Metadata, compact: false);
        }
    });

    /// <summary>
    /// Reads one record: the transactional id and its state (null for a tombstone). Returns null when the key or value
    /// version is one this build does not know; throws <see cref="ProtocolException"/> when the bytes are malformed.
    /// </summary>
    public static (string TransactionalId, TransactionMetadata? State)? Decode(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte>? value)
    {
        var k = new KafkaReader(key);
        if (k.ReadInt16() != KeyVersion)
        {
            return null;
        }

        var id = k.ReadString(compact: false);
        if (value is not { } bytes)
        {
            return (id, null);
        }

        var r = new KafkaReader(bytes);
        if (r.ReadInt16() != ValueVersion)
        {
            return null;
        }

        var t = new TransactionMetadata(id)
        {
            ProducerId = r.ReadInt64(),
            ProducerEpoch = r.ReadInt16(),
            TimeoutMs = r.ReadInt32(),
            State = (TransactionState)r.ReadInt8(),
            StartTimeMs = r.ReadInt64(),
            LastUpdateMs = r.ReadInt64(),
        };
        if (!Enum.IsDefined(t.State))
        {
            throw new ProtocolException($"transaction state {(sbyte)t.State} is unknown");
        }

        for (var n = ReadCount(ref r); n > 0; n--)
        {
            t.Partitions.Add((r.ReadString(compact: false), r.ReadInt32()));
        }

        for (var n = ReadCount(ref r); n > 0; n--)
        {
            t.Groups.Add(r.ReadString(compact: false));
        }

        for (var n = ReadCount(ref r); n > 0; n--)
        {
            var group = r.ReadString(compact: false);
            var entry = new OffsetCommitEntry(r.ReadString(compact: false), r.ReadInt32(), r.ReadInt64(), r.ReadInt32(), r.ReadNullableString(compact: false));
            t.PendingOffsets[(group, entry.Topic, entry.Partition)] = entry;
        }

        return (id, t);
    }

    private static int ReadCount(ref KafkaReader reader)
    {
        var count = reader.ReadInt32();
        // Every element takes at least 4 bytes, so a count beyond that is corrupt (and must not size anything).
        return count < 0 || count > reader.Remaining / 4 ? throw new ProtocolException($"count {count} does not fit the {reader.Remaining} bytes left") : count;
    }
}
