using Tributary.Broker.Groups;

namespace Tributary.Broker.Transactions;

/// <summary>
/// One transactional id's state as the coordinator holds it (and persists it, <see cref="TransactionStateFormat"/>).
/// Mutated only under the coordinator's lock.
/// </summary>
internal sealed class TransactionMetadata(string transactionalId)
{
    public string TransactionalId { get; } = transactionalId;

    public long ProducerId { get; set; } = -1;

    public short ProducerEpoch { get; set; } = -1;

    /// <summary>The epoch before the last bump (memory only): a retried InitProducerId with it gets the current epoch back.</summary>
    public short LastProducerEpoch { get; set; } = -1;

    public int TimeoutMs { get; set; }

    public TransactionState State { get; set; } = TransactionState.Empty;

    /// <summary>When the current transaction started (its first AddPartitionsToTxn or AddOffsetsToTxn); -1 when none.</summary>
    public long StartTimeMs { get; set; } = -1;

    public long LastUpdateMs { get; set; }

    public SortedSet<(string Topic, int Partition)> Partitions { get; } = [];

    /// <summary>Groups added with AddOffsetsToTxn.</summary>
    public SortedSet<string> Groups { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// TxnOffsetCommit offsets read from a record of a release that kept them here; moved to <c>__consumer_offsets</c>
    /// at start (see TransactionCoordinator.MoveLegacyPendingOffsets), so empty otherwise.
    /// </summary>
    public Dictionary<(string Group, string Topic, int Partition), OffsetCommitEntry> LegacyPendingOffsets { get; } = [];

    /// <summary>A round of markers for the prepared transaction is being sent (without the coordinator's lock); memory only.</summary>
    public bool MarkersInFlight { get; set; }

    /// <summary>
    /// A partition refused one of its markers as older than a newer coordinator's (TRANSACTION_COORDINATOR_FENCED): this
    /// broker sends no more and answers the id's requests NOT_COORDINATOR until the state is dropped or loaded again; memory only.
    /// </summary>
    public bool MarkersFenced { get; set; }

    public void ClearTransaction()
    {
        Partitions.Clear();
        Groups.Clear();
        LegacyPendingOffsets.Clear();
        StartTimeMs = -1;
    }
}
