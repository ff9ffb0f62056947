using Tributary.Protocol;
using Tributary.Protocol.Records;
using Tributary.Storage.Segments;

namespace Tributary.Storage.Producers;

/// <summary>
/// The producer state of one partition (Kafka's ProducerStateManager): per producer id its epoch, the last
/// <see cref="BatchMetadataMax"/> batches (for duplicate detection) and its open transaction; per partition the open
/// transactions, which bound the last stable offset. Aborted transactions are not kept here: each abort is handed to
/// the log, which writes it to the segment's transaction index. On open the state comes from a snapshot
/// (<see cref="ProducerSnapshot"/>) plus the batches after it. Mutations happen under the append lock; readers take
/// <see cref="_stateLock"/>; <see cref="FirstUnstableOffset"/> is a volatile read.
/// </summary>
public sealed class ProducerStateManager
{
    /// <summary>Kafka keeps the last five batches per producer: a producer has at most five requests in flight.</summary>
    public const int BatchMetadataMax = 5;

    /// <summary>
    /// Producers tracked per partition. A new producer beyond it evicts the one idle longest that has no open
    /// transaction (it then counts as unknown, whose sequences are accepted as Kafka accepts them); when every
    /// producer has an open transaction a new producer's append is refused with POLICY_VIOLATION.
    /// </summary>
    public const int ProducersPerPartitionMax = 10_000;

    private const long NoOffset = long.MaxValue;

    private readonly Lock _stateLock = new();
    private readonly Dictionary<long, ProducerEntry> _producers = [];
    private readonly SortedSet<(long FirstOffset, long ProducerId)> _openTransactions = [];
    private long _firstUnstableOffset = NoOffset;
    private long _pendingFirstUnstableOffset = NoOffset;

    /// <summary>First offset of the earliest open transaction, or <see cref="long.MaxValue"/> when none is open.</summary>
    public long FirstUnstableOffset => Volatile.Read(ref _firstUnstableOffset);

    public int ProducerCount
    {
        get
        {
            lock (_stateLock)
            {
                return _producers.Count;
            }
        }
    }

    public IReadOnlyList<ProducerStateInfo> ActiveProducers()
    {
        lock (_stateLock)
        {
            return [.. _producers.Values.Select(e => new ProducerStateInfo(
                e.ProducerId, e.Epoch, e.Batches.Count == 0 ? -1 : e.Batches[^1].LastSequence, e.LastTimestampMs, e.CoordinatorEpoch, e.TransactionFirstOffset))];
        }
    }

    /// <summary>
    /// The last offset of each producer's newest batch: the cleaner keeps that batch, emptied if need be, as Kafka does,
    /// so the producer's sequence numbers survive compaction and a restart.
    /// </summary>
    internal Dictionary<long, long> LastBatchOffsets()
    {
        lock (_stateLock)
        {
            return _producers.Values.Where(e => e.Batches.Count > 0).ToDictionary(e => e.ProducerId, e => e.Batches[^1].LastOffset);
        }
    }

    /// <summary>
    /// Kafka's produce-time rules for one batch from a client, checked before it is appended: a stale epoch is
    /// INVALID_PRODUCER_EPOCH; a copy of one of the producer's last five batches is a duplicate (answered with the
    /// original offsets, not appended); a new epoch must start at sequence 0 and a known epoch must continue at
    /// last sequence + 1 (wrapping after int.MaxValue), else OUT_OF_ORDER_SEQUENCE_NUMBER; a producer this partition
    /// does not know may start at any sequence (Kafka's rule since 2.5: its state may have gone with retention).
    /// A non-transactional batch from a producer with an open transaction is INVALID_TXN_STATE. A transaction marker
    /// (<paramref name="marker"/>, read from a control batch) with a lower coordinator epoch than the producer's last
    /// marker is TRANSACTION_COORDINATOR_FENCED: it comes from a coordinator that has been replaced (Kafka's
    /// ProducerStateManager.checkCoordinatorEpoch), and writing it could end a transaction the next coordinator decided.
    /// Returns the duplicate's offsets in <paramref name="duplicate"/>.
    /// </summary>
    internal (ErrorCode Error, string? Message) Check(in RecordBatchHeader header, EndTransactionMarker? marker, out (long FirstOffset, long LastOffset)? duplicate)
    {
        duplicate = null;
        if (header.ProducerId < 0)
        {
            return header.IsTransactional ? (ErrorCode.InvalidRecord, "a transactional batch needs a producer id") : (ErrorCode.None, null);
        }

        lock (_stateLock)
        {
            if (!_producers.TryGetValue(header.ProducerId, out var entry))
            {
                return _producers.Count >= ProducersPerPartitionMax && !HasEvictableProducer()
                    ? (ErrorCode.PolicyViolation, $"partition tracks {ProducersPerPartitionMax} producers, all with open transactions")
                    : (ErrorCode.None, null);
            }

            if (header.ProducerEpoch < entry.Epoch)
            {
                return (ErrorCode.InvalidProducerEpoch, $"producer {header.ProducerId} epoch {header.ProducerEpoch} is older than the current epoch {entry.Epoch}");
            }

            if (header.IsControl)
            {
                return marker is { } m && m.CoordinatorEpoch < entry.CoordinatorEpoch
                    ? (ErrorCode.TransactionCoordinatorFenced, $"marker of producer {header.ProducerId} from coordinator epoch {m.CoordinatorEpoch}, older than {entry.CoordinatorEpoch}")
                    : (ErrorCode.None, null);
            }

            var lastSequence = LastSequenceOf(header);
            if (header.ProducerEpoch == entry.Epoch)
            {
                foreach (var batch in entry.Batches)
                {
                    if (batch.FirstSequence == header.BaseSequence && batch.LastSequence == lastSequence)
                    {
                        duplicate = (batch.FirstOffset, batch.LastOffset);
                        return (ErrorCode.None, null);
                    }
                }

                var current = entry.Batches.Count == 0 ? -1 : entry.Batches[^1].LastSequence;
                var inSequence = header.BaseSequence == current + 1 || (header.BaseSequence == 0 && current == int.MaxValue);
                if (!inSequence)
                {
                    return (ErrorCode.OutOfOrderSequenceNumber, $"producer {header.ProducerId} sent sequence {header.BaseSequence}, expected {(current == int.MaxValue ? 0 : current + 1)}");
                }
            }
            else if (header.BaseSequence != 0)
            {
                return (ErrorCode.OutOfOrderSequenceNumber, $"producer {header.ProducerId} started epoch {header.ProducerEpoch} at sequence {header.BaseSequence}, not 0");
            }

            if (!header.IsTransactional && entry.TransactionFirstOffset >= 0)
            {
                return (ErrorCode.InvalidTxnState, $"producer {header.ProducerId} sent a non-transactional batch inside its open transaction");
            }

            return (ErrorCode.None, null);
        }
    }

    /// <summary>
    /// Records an appended batch (its base offset already assigned). Called for every batch, checked or not (also
    /// while rebuilding from the log), under the append lock. A transactional batch opens the producer's transaction
    /// if none is open; a control batch closes it. Returns the transaction-index entry of a transaction an abort
    /// marker ended: its last stable offset is the first offset of the earliest transaction still open, else the
    /// offset after the marker (Kafka's ProducerStateManager.lastStableOffset).
    /// </summary>
    internal TransactionIndexEntry? OnAppended(ReadOnlyMemory<byte> batch, in RecordBatchHeader header)
    {
        if (header.ProducerId < 0)
        {
            return null;
        }

        lock (_stateLock)
        {
            if (!_producers.TryGetValue(header.ProducerId, out var entry))
            {
                if (_producers.Count >= ProducersPerPartitionMax)
                {
                    EvictIdlestProducer();
                }

                entry = new ProducerEntry(header.ProducerId) { Epoch = header.ProducerEpoch };
                _producers[header.ProducerId] = entry;
            }

            if (header.ProducerEpoch > entry.Epoch)
            {
                entry.Epoch = header.ProducerEpoch;
                entry.Batches.Clear();
            }

            entry.LastTimestampMs = Math.Max(entry.LastTimestampMs, header.MaxTimestamp);
            if (header.IsControl)
            {
                var marker = ReadMarker(batch);
                TransactionIndexEntry? aborted = null;
                if (entry.TransactionFirstOffset >= 0)
                {
                    _openTransactions.Remove((entry.TransactionFirstOffset, entry.ProducerId));
                    if (marker?.Type == ControlRecordType.Abort)
                    {
                        var lastStableOffset = _openTransactions.Count == 0 ? header.BaseOffset + 1 : _openTransactions.Min.FirstOffset;
                        aborted = new TransactionIndexEntry(entry.ProducerId, entry.TransactionFirstOffset, header.BaseOffset, lastStableOffset);
                    }

                    entry.TransactionFirstOffset = -1;
                }

                entry.CoordinatorEpoch = marker?.CoordinatorEpoch ?? entry.CoordinatorEpoch;
                UpdateFirstUnstableOffset();
                return aborted;
            }

            if (entry.Batches.Count == BatchMetadataMax)
            {
                entry.Batches.RemoveAt(0);
            }

            entry.Batches.Add(new BatchMetadata(header.BaseSequence, LastSequenceOf(header), header.BaseOffset, header.LastOffset));
            if (header.IsTransactional && entry.TransactionFirstOffset < 0)
            {
                entry.TransactionFirstOffset = header.BaseOffset;
                _openTransactions.Add((header.BaseOffset, entry.ProducerId));
                UpdateFirstUnstableOffset();
            }

            return null;
        }
    }

    /// <summary>
    /// Publishes the first unstable offset after the high watermark moved. A transaction that opened is published
    /// before the high watermark (in <see cref="OnAppended"/>), one that closed only after it, so a reader that reads
    /// the high watermark and then this value never sees an open transaction's batches as stable.
    /// </summary>
    internal void PublishAfterHighWatermark() => Volatile.Write(ref _firstUnstableOffset, Volatile.Read(ref _pendingFirstUnstableOffset));

    /// <summary>The state as Kafka's snapshot holds it: per producer its epoch, its newest batch and open transaction.</summary>
    internal List<ProducerSnapshotEntry> SnapshotEntries()
    {
        lock (_stateLock)
        {
            var entries = new List<ProducerSnapshotEntry>(_producers.Count);
            foreach (var e in _producers.Values)
            {
                var (lastSequence, lastOffset, offsetDelta) = e.Batches.Count == 0
                    ? (-1, -1L, 0)
                    : (e.Batches[^1].LastSequence, e.Batches[^1].LastOffset, (int)(e.Batches[^1].LastOffset - e.Batches[^1].FirstOffset));
                entries.Add(new ProducerSnapshotEntry(
                    e.ProducerId, e.Epoch, lastSequence, lastOffset, offsetDelta, e.LastTimestampMs, e.CoordinatorEpoch, e.TransactionFirstOffset));
            }

            return entries;
        }
    }

    /// <summary>
    /// Replaces the state with a snapshot's (on open, before the batches after it are replayed). Only each producer's
    /// newest batch is known afterwards, as in Kafka: a retry of an older one of its last five is then out of sequence.
    /// </summary>
    internal void LoadSnapshot(IReadOnlyList<ProducerSnapshotEntry> entries)
    {
        lock (_stateLock)
        {
            _producers.Clear();
            _openTransactions.Clear();
            foreach (var e in entries)
            {
                var entry = new ProducerEntry(e.ProducerId)
                {
                    Epoch = e.Epoch,
                    LastTimestampMs = e.TimestampMs,
                    CoordinatorEpoch = e.CoordinatorEpoch,
                    TransactionFirstOffset = e.CurrentTxnFirstOffset,
                };
                if (e.LastOffset >= 0)
                {
                    var firstSequence = (long)e.LastSequence - e.OffsetDelta;
                    entry.Batches.Add(new BatchMetadata(
                        (int)(firstSequence < 0 ? firstSequence + int.MaxValue + 1 : firstSequence), e.LastSequence, e.LastOffset - e.OffsetDelta, e.LastOffset));
                }

                _producers[e.ProducerId] = entry;
                if (e.CurrentTxnFirstOffset >= 0)
                {
                    _openTransactions.Add((e.CurrentTxnFirstOffset, e.ProducerId));
                }
            }

            UpdateFirstUnstableOffset();
        }
    }

    private static int LastSequenceOf(in RecordBatchHeader header)
    {
        // Sequences wrap from int.MaxValue to 0, as Kafka's DefaultRecordBatch.incrementSequence does.
        var last = (long)header.BaseSequence + header.LastOffsetDelta;
        return last > int.MaxValue ? (int)(last - int.MaxValue - 1) : (int)last;
    }

    /// <summary>The transaction marker a control batch holds; null for another control record or an unreadable one.</summary>
    internal static EndTransactionMarker? ReadMarker(ReadOnlyMemory<byte> batch)
    {
        try
        {
            var read = RecordBatch.Read(batch);
            if (read.Header.Compression != CompressionType.None)
            {
                return null;
            }

            foreach (var record in read.Records)
            {
                return EndTransactionMarker.Read(record);
            }
        }
        catch (ProtocolException)
        {
            // Not a transaction marker (another control type): it ends nothing.
        }

        return null;
    }

    private void UpdateFirstUnstableOffset()
    {
        var next = _openTransactions.Count == 0 ? NoOffset : _openTransactions.Min.FirstOffset;
        Volatile.Write(ref _pendingFirstUnstableOffset, next);
        if (next < Volatile.Read(ref _firstUnstableOffset))
        {
            Volatile.Write(ref _firstUnstableOffset, next);
        }
    }

    private bool HasEvictableProducer() => _producers.Values.Any(e => e.TransactionFirstOffset < 0);

    private void EvictIdlestProducer()
    {
        ProducerEntry? idlest = null;
        foreach (var entry in _producers.Values)
        {
            if (entry.TransactionFirstOffset < 0 && (idlest is null || entry.LastTimestampMs < idlest.LastTimestampMs))
            {
                idlest = entry;
            }
        }

        if (idlest is not null)
        {
            _producers.Remove(idlest.ProducerId);
        }
    }

    private readonly record struct BatchMetadata(int FirstSequence, int LastSequence, long FirstOffset, long LastOffset);

    private sealed class ProducerEntry(long producerId)
    {
        public long ProducerId { get; } = producerId;

        public short Epoch { get; set; }

        public List<BatchMetadata> Batches { get; } = new(BatchMetadataMax);

        public long LastTimestampMs { get; set; } = -1;

        public int CoordinatorEpoch { get; set; } = -1;

        public long TransactionFirstOffset { get; set; } = -1;
    }
}
