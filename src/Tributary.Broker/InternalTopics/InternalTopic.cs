using System.Buffers;
using Tributary.Protocol;
using Tributary.Protocol.Records;
using Tributary.Storage;

namespace Tributary.Broker.InternalTopics;

/// <summary>
/// An internal topic (<c>__consumer_offsets</c>, <c>__transaction_state</c>), whose partitions each hold the keys
/// (<see cref="CoordinatorPartitioner"/>) of the coordinator that leads it. On a single node the topic is created on
/// the first append, so a broker that never writes has no such topic. Every record has a key and a null value is a tombstone, so a compactor can keep
/// the last record per key; replay hands records to the caller's decoder in offset order (later records win).
///
/// Records of partition 0 are in Kafka's format from the offset a <see cref="KafkaFormatMarker"/> holds; those below
/// it (or all of them, when there is no marker) were written by a release that used Tributary's own layout, which had
/// one partition (the other partitions are in Kafka's format throughout) and go to the caller's
/// legacy decoder. <see cref="RewriteLegacy"/> migrates such a log once, so that a crash at any point leaves a log that
/// loads to the same state: it first stores the marker at the log end offset (from there on, Kafka's format), then
/// appends the live state in Kafka's format, and last deletes every record below the log end it started from
/// (DeleteRecords). A crash before the delete leaves old records below the marker and (some of) the live state above
/// it, which replays to the same state and is rewritten again at the next start.
/// </summary>
internal sealed class InternalTopic(BrokerCore broker, string name, Action created, Action<Exception, long> undecodable)
{
    /// <summary>Bytes read from the log per step while replaying: bounds the memory the replay holds at once.</summary>
    private const int ReplayReadBytesMax = 1 << 20;

    /// <summary>Our own batches are uncompressed; a compressed one (written by a tool) may grow to this much.</summary>
    private const int DecompressedBytesMax = 64 << 20;

    /// <summary>Records per batch when the live state is rewritten: keeps each batch well below a segment.</summary>
    private const int RewriteBatchRecordsMax = 1000;

    private readonly Lock _createLock = new();
    private readonly KafkaFormatMarker _marker = new(broker.DataDevice, broker.DataDirectory, name);
    private bool _opened;

    /// <summary>Decodes one record; false when the record is not one the caller keeps (it is counted as skipped).</summary>
    public delegate bool RecordDecoder(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte>? value);

    /// <summary>Decodes one record of a transactional batch written by <paramref name="producerId"/>; false as for <see cref="RecordDecoder"/>.</summary>
    public delegate bool TransactionalRecordDecoder(long producerId, ReadOnlyMemory<byte> key, ReadOnlyMemory<byte>? value);

    /// <summary>
    /// What a replay does with transactions: records of transactional batches go to <paramref name="Record"/>, and each
    /// commit or abort marker to <paramref name="Marker"/> (producer id, true for a commit).
    /// </summary>
    public sealed record TransactionalReplay(TransactionalRecordDecoder Record, Action<long, bool> Marker);

    public string Name => name;

    /// <summary>Cluster mode's coordinator topics are cluster topics, replicated as any other, with no legacy records.</summary>
    private bool Replicated => broker.Config.ClusterMode && !BrokerCore.IsLocalOnly(name);

    /// <summary>True after <see cref="Replay"/> when records in Tributary's old layout remain (see <see cref="RewriteLegacy"/>).</summary>
    public bool HasLegacyRecords { get; private set; }

    /// <summary>
    /// Hands every data record from the log start offset to <paramref name="decode"/> (Kafka's format) or, below the
    /// marker's offset, to <paramref name="decodeLegacy"/>, in offset order; compressed batches are decompressed,
    /// control batches skipped. With <paramref name="transactional"/>, records of transactional batches and the
    /// markers that end them go to it instead. A record without a key, one the decoder declines, or one it fails on (a
    /// <see cref="ProtocolException"/>, logged) counts as skipped. Returns how many were skipped.
    /// </summary>
    public int Replay(int partition, RecordDecoder decode, RecordDecoder decodeLegacy, TransactionalReplay? transactional = null)
    {
        var topic = broker.Metadata.Find(name);
        var log = topic is null ? null : broker.FindLog(topic, partition);
        if (log is null)
        {
            return 0;
        }

        // A replicated coordinator topic was always written in Kafka's format, and its new leader replays up to its log
        // end: it never truncates its own log, so every record there is one the coordinator acknowledged or will keep.
        var replicated = Replicated;
        var kafkaFrom = replicated || partition != 0 ? 0 : _marker.Read() ?? long.MaxValue;
        var end = replicated ? log.LogEndOffset : log.HighWatermark;
        HasLegacyRecords = log.LogStartOffset < Math.Min(kafkaFrom, end);

        var scratch = new ArrayBufferWriter<byte>();
        var skipped = 0;
        var offset = log.LogStartOffset;
        while (offset < end)
        {
            var read = log.Read(offset, new LogReadOptions(ReplayReadBytesMax) { UpToLogEnd = replicated, MaxOffset = end });
            if (read.Status != LogReadStatus.Ok || read.Records.IsEmpty)
            {
                break;
            }

            for (var remaining = read.Records; !remaining.IsEmpty;)
            {
                var batch = RecordBatch.Read(remaining);
                remaining = remaining[batch.Header.TotalSize..];
                if (batch.Header.LastOffset < offset)
                {
                    continue;
                }

                var producerId = batch.Header.ProducerId;
                if (batch.Header.IsControl)
                {
                    if (transactional is not null && batch.Header.BaseOffset >= offset && ReadMarker(batch) is { } commit)
                    {
                        transactional.Marker(producerId, commit);
                    }
                }
                else
                {
                    var records = batch.Header.Compression == CompressionType.None ? batch.Records : batch.DecompressRecords(scratch, DecompressedBytesMax);
                    var inTransaction = transactional is not null && batch.Header.IsTransactional;
                    foreach (var record in records)
                    {
                        // The first batch read may start below the offset asked for (below the log start offset).
                        var recordOffset = batch.Header.BaseOffset + record.OffsetDelta;
                        RecordDecoder decoder = recordOffset < kafkaFrom ? decodeLegacy
                            : inTransaction ? (key, value) => transactional!.Record(producerId, key, value)
                            : decode;
                        if (recordOffset >= offset && !TryDecode(decoder, record, recordOffset))
                        {
                            skipped++;
                        }
                    }
                }

                offset = batch.Header.NextOffset;
            }
        }

        return skipped;
    }

    /// <summary>
    /// Migrates a log with records in the old layout (see the class comment): <paramref name="liveState"/>, the
    /// records in Kafka's format that rebuild everything the log holds, replaces them. Does nothing when
    /// <see cref="HasLegacyRecords"/> is false. Throws IOException when the log or the marker cannot be written.
    /// </summary>
    public void RewriteLegacy(IReadOnlyList<(byte[] Key, byte[] Value)> liveState)
    {
        if (!HasLegacyRecords)
        {
            return;
        }

        // Log() stores the marker at the log end offset unless one is there from an earlier, interrupted rewrite.
        var log = Log(0);
        var end = log.LogEndOffset;

        foreach (var chunk in liveState.Chunk(RewriteBatchRecordsMax))
        {
            AppendBatch(log, [.. chunk.Select(r => (r.Key, (byte[]?)r.Value))]);
        }

        log.DeleteRecordsBefore(end);
        HasLegacyRecords = false;
    }

    /// <summary>Appends the records as one batch (a null value is a tombstone). Throws IOException when the log cannot be written.</summary>
    public void Append(int partition, IReadOnlyList<(byte[] Key, byte[]? Value)> records)
    {
        if (records.Count == 0)
        {
            return;
        }

        AppendBatch(Log(partition), records);
    }

    /// <summary>
    /// Appends the records as one transactional batch of the producer, as Kafka's group coordinator writes
    /// TxnOffsetCommit: readers apply them only once <see cref="AppendMarker"/> commits the transaction. Throws
    /// IOException when the log cannot be written.
    /// </summary>
    public void AppendTransactional(int partition, IReadOnlyList<(byte[] Key, byte[]? Value)> records, long producerId, short producerEpoch)
    {
        if (records.Count > 0)
        {
            AppendBatch(Log(partition), records, new RecordBatchBuilder { ProducerId = producerId, ProducerEpoch = producerEpoch, BaseSequence = 0, IsTransactional = true });
        }
    }

    /// <summary>
    /// Appends the commit or abort marker of the producer's transaction, checked against the partition's producer state
    /// as any leader checks a marker: TRANSACTION_COORDINATOR_FENCED when <paramref name="coordinatorEpoch"/> is below
    /// the one of the producer's last marker, INVALID_PRODUCER_EPOCH for an older producer epoch; nothing is written
    /// then. Throws IOException when the log cannot be written.
    /// </summary>
    public ErrorCode AppendMarker(int partition, long producerId, short producerEpoch, bool commit, int coordinatorEpoch)
    {
        var marker = new EndTransactionMarker(commit ? ControlRecordType.Commit : ControlRecordType.Abort, coordinatorEpoch);
        try
        {
            return Log(partition).AppendChecked(RecordBatchBuilder.BuildEndTransactionMarker(marker, producerId, producerEpoch, broker.NowMs)).Error;
        }
        catch (NotLeaderException e)
        {
            throw new IOException(e.Message, e);
        }
    }

    /// <summary>True for a commit marker, false for an abort, null for another control record or one that does not decode.</summary>
    private static bool? ReadMarker(RecordBatch batch)
    {
        foreach (var record in batch.Records)
        {
            try
            {
                return EndTransactionMarker.Read(record).Type == ControlRecordType.Commit;
            }
            catch (ProtocolException)
            {
                return null;
            }
        }

        return null;
    }

    private void AppendBatch(PartitionLog log, IReadOnlyList<(byte[] Key, byte[]? Value)> records, RecordBatchBuilder? builder = null)
    {
        builder ??= new RecordBatchBuilder();
        var now = broker.NowMs;
        foreach (var (key, value) in records)
        {
            builder.Add(now, key, value);
        }

        AppendToLog(log, builder.Build());
    }

    // Leadership lost between the coordinator's check and the append: the caller sees it as a failed write.
    private static void AppendToLog(PartitionLog log, Memory<byte> batch)
    {
        try
        {
            log.Append(batch);
        }
        catch (NotLeaderException e)
        {
            throw new IOException(e.Message, e);
        }
    }

    private bool TryDecode(RecordDecoder decode, Record record, long offset)
    {
        if (record.Key is not { } key)
        {
            return false;
        }

        try
        {
            return decode(key, record.Value);
        }
        catch (ProtocolException e)
        {
            undecodable(e, offset);
            return false;
        }
    }

    /// <summary>
    /// The partition's log, the topic created on first use. Before anything is appended, the marker says where Kafka's
    /// format starts in partition 0: its log end offset, when no marker exists yet (a new log, or an old one whose
    /// records were never rewritten, which then stay below it).
    /// </summary>
    private PartitionLog Log(int partition)
    {
        if (Replicated)
        {
            // Cluster mode: the cluster topic's log, which this broker leads (or the append fails: NotLeaderException).
            return broker.Metadata.Find(name) is { } topic && broker.FindLog(topic, partition) is { } replicatedLog
                ? replicatedLog
                : throw new IOException($"{name}-{partition} does not exist in the cluster yet or is not hosted here");
        }

        if (Volatile.Read(ref _opened) && broker.Metadata.Find(name) is { } known && broker.FindLog(known, partition) is { } log)
        {
            return log;
        }

        lock (_createLock)
        {
            var (opened, wasCreated) = broker.OpenInternalLog(name, partition);
            if (wasCreated)
            {
                created();
            }

            if (!_opened)
            {
                if (_marker.Read() is null)
                {
                    var first = partition == 0 ? opened : broker.OpenInternalLog(name, 0).Log;
                    _marker.Write(first.LogEndOffset);
                }

                Volatile.Write(ref _opened, true);
            }

            return opened;
        }
    }
}
