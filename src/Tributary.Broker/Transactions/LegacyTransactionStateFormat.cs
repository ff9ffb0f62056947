using Tributary.Broker.Groups;
using Tributary.Protocol;

namespace Tributary.Broker.Transactions;

/// <summary>
/// Reads the layout of <c>__transaction_state</c> that Tributary wrote before it used Kafka's records (see
/// <see cref="TransactionStateFormat"/>), so a data directory of that release can be opened and rewritten once.
/// Nothing writes it any more. Big-endian integers, strings as int16 length + UTF-8 (-1 = null):
/// <code>
/// key   v0: int16 0, string transactional id
/// value v0: int16 0, int64 producer id, int16 producer epoch, int32 timeout ms, int8 state (TransactionState),
///           int64 transaction start ms (-1 = none), int64 last update ms,
///           int32 n, n × (string topic, int32 partition),               -- partitions in the transaction
///           int32 n, n × string group,                                  -- groups added with AddOffsetsToTxn
///           int32 n, n × (string group, string topic, int32 partition,  -- offsets sent with TxnOffsetCommit
///                         int64 offset, int32 leader epoch, nullable string metadata)
/// </code>
/// </summary>
internal static class LegacyTransactionStateFormat
{
    private const short KeyVersion = 0;
    private const short ValueVersion = 0;

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
            t.LegacyPendingOffsets[(group, entry.Topic, entry.Partition)] = entry;
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
