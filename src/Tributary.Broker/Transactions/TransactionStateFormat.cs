using Tributary.Broker.Groups;
using Tributary.Protocol;
using Tributary.Protocol.CoordinatorRecords;

namespace Tributary.Broker.Transactions;

/// <summary>
/// The records of <c>__transaction_state</c> in Kafka's own format: TransactionLogKey (record type 0, the
/// transactional id) and TransactionLogValue version 1 (the flexible version Kafka 4 writes), framed by
/// <see cref="CoordinatorRecordSerde"/>. The latest record of a transactional id wins; a null value would be a
/// tombstone (transactional.id.expiration.ms is not implemented, so none is written yet). The status byte is
/// Kafka's TransactionState id, which <see cref="TransactionState"/> matches.
///
/// A transaction's offsets are written to <c>__consumer_offsets</c> as transactional records, as Kafka does. Kafka
/// keeps no list of a transaction's groups; Tributary keeps it (TxnOffsetCommit checks the group was added) in a
/// tagged field of its own (tag <see cref="OffsetsTopicFormat.TributaryTag"/>), which Kafka's readers skip:
/// <code>
/// compact array of compact string group,                                    -- groups added with AddOffsetsToTxn
/// compact array of (compact string group, compact string topic, int32 partition,
///                   int64 offset, int32 leader epoch, compact nullable string metadata)  -- pending offsets
/// </code>
/// The second array is empty: an earlier release kept TxnOffsetCommit offsets there, and those read from it are
/// moved to <c>__consumer_offsets</c> at start (TransactionCoordinator.MoveLegacyPendingOffsets).
/// </summary>
internal static class TransactionStateFormat
{
    public const short ValueVersion = 1;

    public static byte[] Key(string transactionalId) => CoordinatorRecordSerde.SerializeKey(new TransactionLogKey { TransactionalId = transactionalId });

    public static byte[] Value(TransactionMetadata t)
    {
        var value = new TransactionLogValue
        {
            ProducerId = t.ProducerId,
            ProducerEpoch = t.ProducerEpoch,
            TransactionTimeoutMs = t.TimeoutMs,
            TransactionStatus = (sbyte)t.State,
            // Kafka writes no partition list for an Empty transaction.
            TransactionPartitions = t.State == TransactionState.Empty && t.Partitions.Count == 0 ? null
                : [.. t.Partitions.GroupBy(p => p.Topic, StringComparer.Ordinal).Select(g => new TransactionLogValue.PartitionsSchema { Topic = g.Key, PartitionIds = [.. g.Select(p => p.Partition)] })],
            TransactionLastUpdateTimestampMs = t.LastUpdateMs,
            TransactionStartTimestampMs = t.StartTimeMs,
        };
        if (t.Groups.Count > 0 || t.LegacyPendingOffsets.Count > 0)
        {
            value.UnknownTaggedFields = [new RawTaggedField(OffsetsTopicFormat.TributaryTag, GroupsAndOffsets(t))];
        }

        return CoordinatorRecordSerde.SerializeValue(value, ValueVersion);
    }

    /// <summary>
    /// Reads one record: the transactional id and its state (null for a tombstone). Returns null when the record type
    /// is not a transaction's; throws <see cref="ProtocolException"/> when the bytes are malformed.
    /// </summary>
    public static (string TransactionalId, TransactionMetadata? State)? Decode(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte>? value)
    {
        if (CoordinatorRecordSerde.ReadRecordType(key.Span) != TransactionLogKey.RecordType)
        {
            return null;
        }

        var id = CoordinatorRecordSerde.DeserializeKey<TransactionLogKey>(key).TransactionalId;
        if (value is not { } bytes)
        {
            return (id, null);
        }

        var v = CoordinatorRecordSerde.DeserializeValue<TransactionLogValue>(bytes, out _);
        var t = new TransactionMetadata(id)
        {
            ProducerId = v.ProducerId,
            ProducerEpoch = v.ProducerEpoch,
            TimeoutMs = v.TransactionTimeoutMs,
            State = (TransactionState)v.TransactionStatus,
            StartTimeMs = v.TransactionStartTimestampMs,
            LastUpdateMs = v.TransactionLastUpdateTimestampMs,
        };
        if (!Enum.IsDefined(t.State))
        {
            throw new ProtocolException($"transaction state {v.TransactionStatus} is unknown");
        }

        foreach (var topic in v.TransactionPartitions ?? [])
        {
            foreach (var partition in topic.PartitionIds)
            {
                t.Partitions.Add((topic.Topic, partition));
            }
        }

        if (v.UnknownTaggedFields?.FirstOrDefault(f => f.Tag == OffsetsTopicFormat.TributaryTag) is { } tagged)
        {
            ReadGroupsAndOffsets(tagged.Data, t);
        }

        return (id, t);
    }

    private static byte[] GroupsAndOffsets(TransactionMetadata t) => InternalTopics.InternalRecord.Encode((ref KafkaWriter w) =>
    {
        w.WriteArrayLength(t.Groups.Count, compact: true);
        foreach (var group in t.Groups)
        {
            w.WriteString(group, compact: true);
        }

        w.WriteArrayLength(t.LegacyPendingOffsets.Count, compact: true);
        foreach (var ((group, _, _), entry) in t.LegacyPendingOffsets)
        {
            w.WriteString(group, compact: true);
            w.WriteString(entry.Topic, compact: true);
            w.WriteInt32(entry.Partition);
            w.WriteInt64(entry.Offset);
            w.WriteInt32(entry.LeaderEpoch);
            w.WriteNullableString(entry.Metadata, compact: true);
        }
    });

    private static void ReadGroupsAndOffsets(byte[] data, TransactionMetadata t)
    {
        var r = new KafkaReader(data);
        for (var n = ReadCount(ref r); n > 0; n--)
        {
            t.Groups.Add(r.ReadString(compact: true));
        }

        for (var n = ReadCount(ref r); n > 0; n--)
        {
            var group = r.ReadString(compact: true);
            var entry = new OffsetCommitEntry(r.ReadString(compact: true), r.ReadInt32(), r.ReadInt64(), r.ReadInt32(), r.ReadNullableString(compact: true));
            t.LegacyPendingOffsets[(group, entry.Topic, entry.Partition)] = entry;
        }
    }

    private static int ReadCount(ref KafkaReader reader)
    {
        var count = reader.ReadArrayLength(compact: true);
        // Every element takes at least one byte, so a count beyond that is corrupt (and must not size anything).
        return count < 0 || count > reader.Remaining ? throw new ProtocolException($"count {count} does not fit the {reader.Remaining} bytes left") : count;
    }
}
