using Microsoft.Extensions.Logging;
using Tributary.Broker.Cluster;
using Tributary.Broker.Groups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;

namespace Tributary.Broker.Transactions;

/// <summary>
/// The transaction coordinator of this node, which coordinates the transactional ids of the partitions of
/// <c>__transaction_state</c> it leads (an id's partition is <see cref="CoordinatorPartitionFor"/>; a single node leads
/// them all, see TransactionCoordinator.Leadership.cs).
/// It allocates producer ids, keeps each transactional id's state (persisted to
/// <c>__transaction_state</c> on every change and reloaded on start), writes the commit/abort markers into every
/// partition of a transaction, applies a committed transaction's offsets to the group coordinator, and aborts
/// transactions that outlive their timeout (one timer, armed for the earliest deadline of the ongoing transactions;
/// Kafka polls every transaction.abort.timed.out.transaction.cleanup.interval.ms instead).
///
/// EndTxn writes PrepareCommit/PrepareAbort, sends the markers without the lock (TransactionCoordinator.Markers.cs),
/// then writes CompleteCommit/CompleteAbort before it answers (in cluster mode, markers not written are sent again in
/// the background and EndTxn is answered once the prepare is written). A transaction found in a Prepare state at start
/// (a crash in between) is completed then. One lock guards all state; transactional produce appends run under it too
/// (see <see cref="AppendTransactional{T}"/>) and need the transaction Ongoing, so a batch can never land after its
/// transaction's marker.
/// In cluster mode producer ids come from blocks reserved in etcd (<see cref="ProducerIdBlocks"/>), unique cluster-wide.
/// Error codes follow Kafka's TransactionCoordinator: PRODUCER_FENCED for a stale epoch from the API versions that
/// know it (INVALID_PRODUCER_EPOCH before), INVALID_PRODUCER_ID_MAPPING for an unknown id or mismatched producer id.
/// </summary>
public sealed partial class TransactionCoordinator : IDisposable
{
    /// <summary>Transactional ids held at most; InitProducerId for one more gets COORDINATOR_NOT_AVAILABLE.</summary>
    public const int TransactionalIdsMax = 100_000;

    /// <summary>Partitions in one transaction; AddPartitionsToTxn beyond it gets POLICY_VIOLATION for each partition.</summary>
    public const int PartitionsPerTransactionMax = 10_000;

    /// <summary>Groups (AddOffsetsToTxn) and pending offsets (TxnOffsetCommit) in one transaction.</summary>
    public const int GroupsPerTransactionMax = 100;

    public const int PendingOffsetsPerTransactionMax = 10_000;


    private readonly BrokerCore _broker;
    private readonly ILogger _logger;
    private readonly TransactionStateStore _store;
    private readonly ProducerIdManager _producerIds;
    private ProducerIdBlocks? _clusterProducerIds;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, TransactionMetadata> _transactions = new(StringComparer.Ordinal);
    private readonly Dictionary<long, TransactionMetadata> _byProducerId = [];
    private readonly ITimer _timeoutTimer;

    /// <summary>The longest wait a .NET timer takes (2^32 - 2 ms, about 49.7 days).</summary>
    private const long TimerWaitMsMax = uint.MaxValue - 1L;

    /// <summary>How long ending a transaction waits for a partition leader's answer to WriteTxnMarkers (cluster mode).</summary>
    private static readonly TimeSpan MarkerSendTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a leader waits for its ISR to take a marker (cluster mode); below <see cref="MarkerSendTimeout"/>.</summary>
    public const int MarkerReplicationTimeoutMs = 5000;

    /// <summary>How long an idempotent producer's InitProducerId waits for a producer id block in flight (cluster mode).</summary>
    private static readonly TimeSpan ProducerIdBlockWait = TimeSpan.FromSeconds(2);

    /// <param name="device">The files of <paramref name="dataDirectory"/> (the producer id checkpoint); the real file system by default.</param>
    public TransactionCoordinator(BrokerCore broker, string? dataDirectory, Storage.Devices.ILogDevice? device = null)
    {
        _broker = broker;
        _logger = broker.LoggerFactory.CreateLogger<TransactionCoordinator>();
        _store = new TransactionStateStore(broker, _logger);
        _producerIds = new ProducerIdManager(dataDirectory, device);
        _timeoutTimer = broker.Time.CreateTimer(static state => ((TransactionCoordinator)state!).AbortTimedOut(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _leadership = CreateLeadership();
        if (!broker.Config.ClusterMode)
        {
            var prepared = new List<MarkerRound>();
            lock (_lock)
            {
                for (var partition = 0; partition < broker.CoordinatorPartitionCount(TransactionStateStore.TopicName); partition++)
                {
                    LoadTransactions(partition, prepared);
                }

                _leadership.ActivateAll();
            }

            foreach (var round in prepared)
            {
                RunMarkerRound(round);
            }
        }
    }

    // The state of every transactional id of one partition of the log; transactions found prepared (the coordinator
    // stopped between the prepare and the end) are completed: on a single node by the caller with the rounds added to
    // <paramref name="prepared"/>, once it let go of the lock; in cluster mode by the marker retry, started at once.
    // Ongoing ones keep running to their timeout. Returns how many ids it loaded. Caller holds _lock.
    private int LoadTransactions(int partition, List<MarkerRound>? prepared = null)
    {
        var loadedIds = _store.Load(partition);
        foreach (var (id, loaded) in loadedIds)
        {
            _transactions[id] = loaded;
        }

        foreach (var t in loadedIds.Values)
        {
            _byProducerId[t.ProducerId] = t;
            MoveLegacyPendingOffsets(t);
            if (t.State is TransactionState.PrepareCommit or TransactionState.PrepareAbort)
            {
                LogCompletingAfterRestart(t.TransactionalId, t.State);
                if (prepared is not null && TakeMarkerRound(t) is { } round)
                {
                    prepared.Add(round);
                }
                else
                {
                    ScheduleMarkerRetry(TimeSpan.Zero);
                }
            }
        }

        ScheduleTimeoutTimer();
        return loadedIds.Count;
    }

    /// <summary>Drops the transactional ids of a partition of the log this broker no longer leads. Caller holds _lock.</summary>
    private void UnloadTransactions(int partition)
    {
        foreach (var t in _transactions.Values.Where(t => _store.PartitionFor(t.TransactionalId) == partition).ToList())
        {
            _transactions.Remove(t.TransactionalId);
            _byProducerId.Remove(t.ProducerId);
        }

        _coordinatorEpochs.Remove(partition);
        ScheduleTimeoutTimer();
    }

    /// <summary>The partition of __transaction_state that holds the transactional id, whose leader coordinates it.</summary>
    public int CoordinatorPartitionFor(string transactionalId) => _store.PartitionFor(transactionalId);

    /// <summary>The partition of __consumer_offsets that holds a group's offsets: the one a transaction adds for it.</summary>
    private (string Topic, int Partition) OffsetsPartitionOf(string groupId) => (OffsetsTopicStore.TopicName, _broker.Groups.CoordinatorPartitionFor(groupId));

    private long NowMs => _broker.NowMs;

    /// <summary>
    /// A transaction recorded by a release that kept its TxnOffsetCommit offsets in its own record: they are written to
    /// <c>__consumer_offsets</c> as the transaction's batch now, so its end applies or drops them as any other. A
    /// write the disk refuses leaves them in the record, to be moved at the next start.
    /// </summary>
    private void MoveLegacyPendingOffsets(TransactionMetadata t)
    {
        if (t.LegacyPendingOffsets.Count == 0 || t.State is not (TransactionState.Ongoing or TransactionState.PrepareCommit))
        {
            t.LegacyPendingOffsets.Clear();
            return;
        }

        var groups = t.LegacyPendingOffsets.GroupBy(kv => kv.Key.Group, kv => kv.Value).ToList();
        foreach (var group in groups)
        {
            if (!_broker.Groups.AppendTransactionalOffsets(group.Key, t.ProducerId, t.ProducerEpoch, [.. group]))
            {
                return;
            }
        }

        t.LegacyPendingOffsets.Clear();
        foreach (var group in groups)
        {
            t.Partitions.Add(OffsetsPartitionOf(group.Key));
        }

        Persist(t);
    }

    /// <summary>
    /// InitProducerId. Without a transactional id: a fresh producer id, epoch 0 (idempotence only). With one: the same
    /// producer id with its epoch bumped (fencing earlier producers of that id; an open transaction is aborted first),
    /// or a new producer id when the epoch is exhausted. v3+ may pass the current producer id and epoch (KIP-360): they
    /// must match, else INVALID_PRODUCER_ID_MAPPING or PRODUCER_FENCED; a retry with the previous epoch gets the
    /// current one back.
    /// A producer id block the disk refuses to record (the checkpoint is written before its first id is handed out)
    /// answers COORDINATOR_NOT_AVAILABLE, which clients retry, and hands out nothing.
    /// </summary>
    public (ErrorCode Error, long ProducerId, short ProducerEpoch) InitProducerId(
        string? transactionalId, int timeoutMs, long producerId, short producerEpoch, bool fencedErrorSupported)
    {
        try
        {
            return InitProducerIdCore(transactionalId, timeoutMs, producerId, producerEpoch, fencedErrorSupported);
        }
        catch (ClusterUnavailableException)
        {
            // Kafka answers so while its broker waits for the controller's next block: clients retry it.
            return (ErrorCode.CoordinatorLoadInProgress, -1, -1);
        }
        catch (Exception e) when (BrokerCore.IsStorageFailure(e))
        {
            LogProducerIdBlockFailed(e);
            return (ErrorCode.CoordinatorNotAvailable, -1, -1);
        }
    }

    /// <summary>Cluster mode: producer ids come from blocks reserved in etcd from now on.</summary>
    public void UseClusterProducerIds(ProducerIdBlocks blocks) => Volatile.Write(ref _clusterProducerIds, blocks);

    // In cluster mode ids come only from etcd blocks (none before the broker joined); a block not ready throws
    // ClusterUnavailableException. Under the coordinator's lock nothing waits for etcd (wait zero).
    private long NextProducerId(TimeSpan wait)
    {
        if (!_broker.Config.ClusterMode)
        {
            return _producerIds.Next();
        }

        return Volatile.Read(ref _clusterProducerIds) is { } blocks && blocks.TryNext(wait, out var id)
            ? id
            : throw new ClusterUnavailableException("no producer id block is reserved yet");
    }

    private (ErrorCode Error, long ProducerId, short ProducerEpoch) InitProducerIdCore(
        string? transactionalId, int timeoutMs, long producerId, short producerEpoch, bool fencedErrorSupported, bool preparedFinished = false)
    {
        if (transactionalId is null)
        {
            return (ErrorCode.None, NextProducerId(ProducerIdBlockWait), 0);
        }

        if (transactionalId.Length == 0)
        {
            return (ErrorCode.InvalidRequest, -1, -1);
        }

        if (CoordinatorErrorFor(transactionalId) is var notHere and not ErrorCode.None)
        {
            return (notHere, -1, -1);
        }

        if (timeoutMs <= 0 || timeoutMs > _broker.Config.TransactionMaxTimeoutMs)
        {
            return (ErrorCode.InvalidTransactionTimeout, -1, -1);
        }

        MarkerRound? round = null;
        var finishingPrepared = false;
        TransactionMetadata? t;
        lock (_lock)
        {
            if (!_transactions.TryGetValue(transactionalId, out t))
            {
                if (producerId != -1)
                {
                    return (ErrorCode.InvalidProducerIdMapping, -1, -1);
                }

                if (_transactions.Count >= TransactionalIdsMax)
                {
                    return (ErrorCode.CoordinatorNotAvailable, -1, -1);
                }

                t = new TransactionMetadata(transactionalId) { ProducerId = NextProducerId(TimeSpan.Zero), ProducerEpoch = -1 };
                _transactions[transactionalId] = t;
                _byProducerId[t.ProducerId] = t;
            }
            else if (t.MarkersFenced)
            {
                return (ErrorCode.NotCoordinator, -1, -1);
            }
            else if (t.State is TransactionState.PrepareCommit or TransactionState.PrepareAbort)
            {
                // A transaction left prepared is finished first (its markers without the lock), then this is answered.
                round = preparedFinished ? null : TakeMarkerRound(t);
                if (round is null)
                {
                    return (ErrorCode.ConcurrentTransactions, -1, -1);
                }

                finishingPrepared = true;
            }
            else if (producerId != -1)
            {
                if (producerId != t.ProducerId)
                {
                    return (ErrorCode.InvalidProducerIdMapping, -1, -1);
                }

                if (producerEpoch == t.LastProducerEpoch && t.State == TransactionState.Empty && producerEpoch != t.ProducerEpoch)
                {
                    // A retry of the InitProducerId that already bumped the epoch.
                    return (ErrorCode.None, t.ProducerId, t.ProducerEpoch);
                }

                if (producerEpoch != t.ProducerEpoch)
                {
                    return (Fenced(fencedErrorSupported), -1, -1);
                }
            }

            if (!finishingPrepared)
            {
                if (t.State != TransactionState.Ongoing)
                {
                    return NewProducerEpoch(t, timeoutMs);
                }

                // The previous producer of this id left a transaction open: fence it with a bumped epoch and abort.
                BumpEpoch(t);
                LogAbortedForNewProducer(transactionalId, t.ProducerId);
                if (!Prepare(t, commit: false))
                {
                    return (ErrorCode.CoordinatorNotAvailable, -1, -1);
                }

                round = TakeMarkerRound(t)!;
            }
        }

        if (finishingPrepared)
        {
            return RunMarkerRound(round!) ? InitProducerIdCore(transactionalId, timeoutMs, producerId, producerEpoch, fencedErrorSupported, preparedFinished: true)
                : (MarkersFenced(t) ? ErrorCode.NotCoordinator : ErrorCode.ConcurrentTransactions, -1, -1);
        }

        if (!RunMarkerRound(round!))
        {
            return (MarkersFenced(t) ? ErrorCode.NotCoordinator : ErrorCode.CoordinatorNotAvailable, -1, -1);
        }

        lock (_lock)
        {
            // Unless the transaction changed between the abort and now: another request of this id found it prepared
            // and was answered CONCURRENT_TRANSACTIONS, so only a load or a resignation can have changed it.
            return _transactions.TryGetValue(transactionalId, out var current) && ReferenceEquals(current, t) && t.State == TransactionState.CompleteAbort
                ? NewProducerEpoch(t, timeoutMs)
                : (ErrorCode.ConcurrentTransactions, -1, -1);
        }
    }

    // The end of InitProducerId: a new epoch for the id and no transaction. Caller holds _lock.
    private (ErrorCode Error, long ProducerId, short ProducerEpoch) NewProducerEpoch(TransactionMetadata t, int timeoutMs)
    {
        BumpEpoch(t);
        t.TimeoutMs = timeoutMs;
        t.State = TransactionState.Empty;
        t.ClearTransaction();
        return Persist(t) ? (ErrorCode.None, t.ProducerId, t.ProducerEpoch) : (ErrorCode.CoordinatorNotAvailable, -1, -1);
    }

    /// <summary>
    /// AddPartitionsToTxn: one error per partition. Unknown topics or partitions get UNKNOWN_TOPIC_OR_PARTITION and the
    /// others OPERATION_NOT_ATTEMPTED (nothing is added), as Kafka does. With <paramref name="verifyOnly"/> (v4+,
    /// broker-to-broker) nothing is added: each partition answers NONE when it is in the ongoing transaction, else
    /// INVALID_TXN_STATE.
    /// </summary>
    public (ErrorCode Error, IReadOnlyDictionary<(string Topic, int Partition), ErrorCode> Results) AddPartitions(
        string transactionalId, long producerId, short producerEpoch, IReadOnlyList<(string Topic, int Partition)> partitions, bool verifyOnly, bool fencedErrorSupported)
    {
        var results = new Dictionary<(string Topic, int Partition), ErrorCode>();
        lock (_lock)
        {
            var error = Validate(transactionalId, producerId, producerEpoch, fencedErrorSupported, out var t);
            if (error != ErrorCode.None)
            {
                return (error, Fill(partitions, error));
            }

            if (verifyOnly)
            {
                foreach (var p in partitions)
                {
                    results[p] = t!.State == TransactionState.Ongoing && t.Partitions.Contains(p) ? ErrorCode.None : ErrorCode.InvalidTxnState;
                }

                return (ErrorCode.None, results);
            }

            var unknown = partitions.Where(p => _broker.Metadata.Find(p.Topic) is not { } topic || p.Partition < 0 || p.Partition >= topic.PartitionCount).ToHashSet();
            if (unknown.Count > 0)
            {
                foreach (var p in partitions)
                {
                    results[p] = unknown.Contains(p) ? ErrorCode.UnknownTopicOrPartition : ErrorCode.OperationNotAttempted;
                }

                return (ErrorCode.None, results);
            }

            if (t!.Partitions.Union(partitions).Count() > PartitionsPerTransactionMax)
            {
                return (ErrorCode.None, Fill(partitions, ErrorCode.PolicyViolation));
            }

            Begin(t);
            t.Partitions.UnionWith(partitions);
            return (ErrorCode.None, Fill(partitions, Persist(t) ? ErrorCode.None : ErrorCode.CoordinatorNotAvailable));
        }
    }

    /// <summary>AddOffsetsToTxn: adds the group whose offsets TxnOffsetCommit will send in this transaction.</summary>
    public ErrorCode AddOffsets(string transactionalId, long producerId, short producerEpoch, string groupId, bool fencedErrorSupported)
    {
        lock (_lock)
        {
            var error = Validate(transactionalId, producerId, producerEpoch, fencedErrorSupported, out var t);
            if (error != ErrorCode.None)
            {
                return error;
            }

            if (groupId.Length == 0)
            {
                return ErrorCode.InvalidGroupId;
            }

            if (!t!.Groups.Contains(groupId) && t.Groups.Count >= GroupsPerTransactionMax)
            {
                return ErrorCode.PolicyViolation;
            }

            Begin(t);
            t.Groups.Add(groupId);

            // As Kafka, which adds the group's __consumer_offsets partition to the transaction (DescribeTransactions
            // lists it); its marker is written by the group coordinator (AppendMarker).
            t.Partitions.Add(OffsetsPartitionOf(groupId));
            return Persist(t) ? ErrorCode.None : ErrorCode.CoordinatorNotAvailable;
        }
    }

    /// <summary>
    /// TxnOffsetCommit: the offsets are written to <c>__consumer_offsets</c> as a transactional batch of the producer
    /// and stay pending until EndTxn (<see cref="GroupCoordinator.AppendTransactionalOffsets"/>); one error per entry. The group must have been added with AddOffsetsToTxn (else INVALID_TXN_STATE). A stale epoch is
    /// INVALID_PRODUCER_EPOCH (this API has no PRODUCER_FENCED version). Then the group checks the member and
    /// generation (<see cref="GroupCoordinator.ValidateTransactionalCommit"/>; v0-2 name none).
    /// </summary>
    public ErrorCode[] CommitOffsets(string transactionalId, OffsetCommitter committer, long producerId, short producerEpoch, IReadOnlyList<OffsetCommitEntry> entries)
    {
        var results = new ErrorCode[entries.Count];
        var groupId = committer.GroupId;
        lock (_lock)
        {
            // Cluster mode: the group's coordinator need not coordinate the transactional id too (their partitions
            // differ); then the offsets are taken unverified by the transaction, as Kafka's group coordinator takes
            // them without KIP-890 verification, and the id's coordinator ends them with a marker (WriteTxnMarkers).
            var remote = _broker.Cluster is not null && CoordinatorErrorFor(transactionalId) != ErrorCode.None;
            TransactionMetadata? t = null;
            var error = remote ? ErrorCode.None : Validate(transactionalId, producerId, producerEpoch, fencedErrorSupported: false, out t);
            if (!remote && error == ErrorCode.None && (t!.State != TransactionState.Ongoing || !t.Groups.Contains(groupId)))
            {
                error = ErrorCode.InvalidTxnState;
            }

            if (error == ErrorCode.None)
            {
                error = _broker.Groups.ValidateTransactionalCommit(groupId, committer.GenerationId, committer.MemberId, committer.GroupInstanceId);
            }

            if (error != ErrorCode.None)
            {
                Array.Fill(results, error);
                return results;
            }

            var accepted = new List<int>();
            var room = PendingOffsetsPerTransactionMax - _broker.Groups.PendingTransactionalOffsetCount(producerId);
            for (var i = 0; i < entries.Count; i++)
            {
                var e = entries[i];
                results[i] = _broker.Metadata.Find(e.Topic) is not { } topic || e.Partition < 0 || e.Partition >= topic.PartitionCount ? ErrorCode.UnknownTopicOrPartition
                    : e.Metadata is { Length: > GroupCoordinator.CommitMetadataBytesMax } ? ErrorCode.OffsetMetadataTooLarge
                    : accepted.Count >= room ? ErrorCode.PolicyViolation
                    : ErrorCode.None;
                if (results[i] == ErrorCode.None)
                {
                    accepted.Add(i);
                }
            }

            if (accepted.Count > 0 && !_broker.Groups.AppendTransactionalOffsets(groupId, producerId, producerEpoch, [.. accepted.Select(i => entries[i])]))
            {
                foreach (var i in accepted)
                {
                    results[i] = ErrorCode.CoordinatorNotAvailable;
                }
            }

            return results;
        }
    }

    /// <summary>
    /// EndTxn: commits or aborts the ongoing transaction. A retry of an EndTxn that already completed the same way
    /// answers NONE; the opposite outcome, or no transaction at all, is INVALID_TXN_STATE.
    /// </summary>
    public ErrorCode EndTransaction(string transactionalId, long producerId, short producerEpoch, bool commit, bool fencedErrorSupported)
    {
        MarkerRound round;
        bool retryOfPrepared;
        lock (_lock)
        {
            var error = Validate(transactionalId, producerId, producerEpoch, fencedErrorSupported, out var t);
            if (error == ErrorCode.None && t!.State != TransactionState.Ongoing)
            {
                return Ended(t, commit);
            }

            // A transaction left prepared by a refused write is finished first: this may be the retry that ends it.
            retryOfPrepared = error == ErrorCode.ConcurrentTransactions;
            if (error != ErrorCode.None && !retryOfPrepared)
            {
                return error;
            }

            if (!retryOfPrepared && !Prepare(t!, commit))
            {
                return ErrorCode.CoordinatorNotAvailable;
            }

            if (TakeMarkerRound(t!) is not { } taken)
            {
                return ErrorCode.ConcurrentTransactions;
            }

            round = taken;
        }

        if (RunMarkerRound(round))
        {
            lock (_lock)
            {
                var error = Validate(transactionalId, producerId, producerEpoch, fencedErrorSupported, out var t);
                return error == ErrorCode.None ? Ended(t!, commit) : error;
            }
        }

        // A newer coordinator fenced the markers: the producer asks it (FindCoordinator) and ends the transaction there.
        // Else, in cluster mode, as Kafka: once the prepare is written the markers are sent again until written, so the
        // end is acknowledged; the producer's next transaction waits (CONCURRENT_TRANSACTIONS) meanwhile. A single node
        // finishes it at the producer's next EndTxn or InitProducerId, or at the next start.
        return MarkersFenced(round.Transaction) ? ErrorCode.NotCoordinator
            : retryOfPrepared ? ErrorCode.ConcurrentTransactions
            : _broker.Cluster is not null ? ErrorCode.None
            : ErrorCode.CoordinatorNotAvailable;
    }

    // The answer to EndTxn for a transaction that is not ongoing: a retry of the end that completed it is NONE.
    private static ErrorCode Ended(TransactionMetadata t, bool commit) => t.State switch
    {
        TransactionState.CompleteCommit when commit => ErrorCode.None,
        TransactionState.CompleteAbort when !commit => ErrorCode.None,
        _ => ErrorCode.InvalidTxnState,
    };

    /// <summary>
    /// Runs a transactional batch's append while the transaction cannot end: <paramref name="append"/> gets NONE when
    /// the producer's transaction is ongoing with that epoch and includes the partition, else the error to answer
    /// (INVALID_PRODUCER_ID_MAPPING for an unknown producer id, INVALID_PRODUCER_EPOCH for another epoch,
    /// INVALID_TXN_STATE for a partition not added with AddPartitionsToTxn, as KIP-890's verification does). In cluster
    /// mode only the producers this broker coordinates are verified.
    /// </summary>
    public T AppendTransactional<T>(long producerId, short producerEpoch, string topic, int partition, Func<ErrorCode, T> append)
    {
        lock (_lock)
        {
            // Cluster mode: a producer this broker does not coordinate is another coordinator's; its batch is appended
            // unverified, as Kafka's leaders do without KIP-890 verification (the log's producer state fences epochs).
            var error = !_byProducerId.TryGetValue(producerId, out var t) && _broker.Cluster is not null ? ErrorCode.None
                : t is null || t.ProducerId != producerId ? ErrorCode.InvalidProducerIdMapping
                : t.ProducerEpoch != producerEpoch ? ErrorCode.InvalidProducerEpoch
                : t.State != TransactionState.Ongoing || !t.Partitions.Contains((topic, partition)) ? ErrorCode.InvalidTxnState
                : ErrorCode.None;
            return append(error);
        }
    }

    /// <summary>The state of one transactional id, or null when it is unknown.</summary>
    public TransactionDescription? Describe(string transactionalId)
    {
        lock (_lock)
        {
            return _transactions.TryGetValue(transactionalId, out var t) ? ToDescription(t) : null;
        }
    }

    public IReadOnlyList<TransactionDescription> List()
    {
        lock (_lock)
        {
            return [.. _transactions.Values.Select(ToDescription)];
        }
    }

    /// <summary>Aborts every ongoing transaction older than its timeout, with a bumped epoch that fences its producer.</summary>
    public int AbortTimedOut()
    {
        var rounds = new List<MarkerRound>();
        var count = 0;
        lock (_lock)
        {
            var now = NowMs;
            foreach (var t in _transactions.Values)
            {
                if (t.State == TransactionState.Ongoing && now - t.StartTimeMs > t.TimeoutMs)
                {
                    LogTimedOut(t.TransactionalId, t.ProducerId, t.TimeoutMs);
                    if (t.ProducerEpoch < short.MaxValue - 1)
                    {
                        BumpEpoch(t);
                    }

                    if (Prepare(t, commit: false) && TakeMarkerRound(t) is { } round)
                    {
                        rounds.Add(round);
                    }

                    count++;
                }
            }

            ScheduleTimeoutTimer();
        }

        // The markers without the lock; a round not completed leaves its transaction prepared, as EndTxn does.
        foreach (var round in rounds)
        {
            RunMarkerRound(round);
        }

        return count;
    }

    public void Dispose()
    {
        _timeoutTimer.Dispose();
        StopMarkerRetries();
    }

    private static TransactionDescription ToDescription(TransactionMetadata t) =>
        new(t.TransactionalId, t.ProducerId, t.ProducerEpoch, t.TimeoutMs, t.State, t.StartTimeMs, [.. t.Partitions]);

    private static ErrorCode Fenced(bool fencedErrorSupported) => fencedErrorSupported ? ErrorCode.ProducerFenced : ErrorCode.InvalidProducerEpoch;

    private static Dictionary<(string Topic, int Partition), ErrorCode> Fill(IReadOnlyList<(string Topic, int Partition)> partitions, ErrorCode error) =>
        partitions.Distinct().ToDictionary(p => p, _ => error);

    private ErrorCode Validate(string transactionalId, long producerId, short producerEpoch, bool fencedErrorSupported, out TransactionMetadata? t)
    {
        if (!_transactions.TryGetValue(transactionalId, out t) || t.ProducerId != producerId)
        {
            return ErrorCode.InvalidProducerIdMapping;
        }

        if (t.MarkersFenced)
        {
            return ErrorCode.NotCoordinator;
        }

        if (t.ProducerEpoch != producerEpoch)
        {
            return Fenced(fencedErrorSupported);
        }

        return t.State is TransactionState.PrepareCommit or TransactionState.PrepareAbort ? ErrorCode.ConcurrentTransactions : ErrorCode.None;
    }

    private void Begin(TransactionMetadata t)
    {
        if (t.State != TransactionState.Ongoing)
        {
            t.ClearTransaction();
            t.State = TransactionState.Ongoing;
            t.StartTimeMs = NowMs;
            ScheduleTimeoutTimer();
        }
    }

    /// <summary>Arms the timer for the earliest deadline of the ongoing transactions (disarms it when there are none). Caller holds the lock.</summary>
    private void ScheduleTimeoutTimer()
    {
        // In 128 bits: a stored start time or timeout may be anything, and must not overflow into a start failure.
        Int128? deadline = null;
        foreach (var t in _transactions.Values)
        {
            if (t.State == TransactionState.Ongoing)
            {
                var end = (Int128)t.StartTimeMs + t.TimeoutMs;
                deadline = deadline is { } d ? Int128.Min(d, end) : end;
            }
        }

        // +1: a transaction expires once it is strictly older than its timeout. A deadline past the longest wait a timer
        // takes is checked again then (AbortTimedOut re-arms the timer).
        var due = deadline is { } at ? TimeSpan.FromMilliseconds((long)Int128.Clamp(at + 1 - NowMs, 1, TimerWaitMsMax)) : Timeout.InfiniteTimeSpan;
        _timeoutTimer?.Change(due, Timeout.InfiniteTimeSpan);
    }

    private void BumpEpoch(TransactionMetadata t)
    {
        if (t.ProducerEpoch >= short.MaxValue - 1)
        {
            // Epoch exhausted: a new producer id starts again at epoch 0, as Kafka does. The id first: taking it may
            // fail on the disk, and then nothing has changed.
            var next = NextProducerId(TimeSpan.Zero);
            _byProducerId.Remove(t.ProducerId);
            t.ProducerId = next;
            t.ProducerEpoch = 0;
            t.LastProducerEpoch = -1;
            _byProducerId[t.ProducerId] = t;
        }
        else
        {
            t.LastProducerEpoch = t.ProducerEpoch;
            t.ProducerEpoch++;
        }
    }

    private bool Persist(TransactionMetadata t)
    {
        t.LastUpdateMs = NowMs;
        try
        {
            _store.Write(t);

            // Cluster mode: written with acks=all, as Kafka's coordinator writes its log (blocking under the lock, which
            // the followers' fetches never take).
            return _broker.Cluster is null || _broker.ReplicateCoordinatorWriteAsync(TransactionStateStore.TopicName, _store.PartitionFor(t.TransactionalId)).GetAwaiter().GetResult() == ErrorCode.None;
        }
        catch (IOException e)
        {
            LogPersistFailed(e, t.TransactionalId);
            return false;
        }
    }

    [LoggerMessage(EventId = 710, Level = LogLevel.Information, Message = "Aborting transaction of {TransactionalId} (producer {ProducerId}): it exceeded its timeout of {TimeoutMs} ms")]
    private partial void LogTimedOut(string transactionalId, long producerId, int timeoutMs);

    [LoggerMessage(EventId = 711, Level = LogLevel.Information, Message = "Aborting the open transaction of {TransactionalId} (producer {ProducerId}): a new producer initialized the id")]
    private partial void LogAbortedForNewProducer(string transactionalId, long producerId);

    [LoggerMessage(EventId = 712, Level = LogLevel.Information, Message = "Completing transaction of {TransactionalId} found in state {State} at start")]
    private partial void LogCompletingAfterRestart(string transactionalId, TransactionState state);

    [LoggerMessage(EventId = 713, Level = LogLevel.Error, Message = "Could not write the transaction marker of {TransactionalId} to {Topic}-{Partition}")]
    private partial void LogMarkerFailed(Exception exception, string transactionalId, string topic, int partition);

    [LoggerMessage(EventId = 715, Level = LogLevel.Error, Message = "Could not record a new producer id block; InitProducerId answers COORDINATOR_NOT_AVAILABLE")]
    private partial void LogProducerIdBlockFailed(Exception exception);

    [LoggerMessage(EventId = 1546, Level = LogLevel.Warning, Message = "WriteTxnMarkers of {TransactionalId} to {Topic}-{Partition} on broker {Leader} failed: {Reason}; the transaction stays prepared and is retried")]
    private partial void LogRemoteMarkerFailed(string transactionalId, string topic, int partition, int leader, string reason);

    [LoggerMessage(EventId = 714, Level = LogLevel.Error, Message = "Could not persist the state of transactional id {TransactionalId}")]
    private partial void LogPersistFailed(Exception exception, string transactionalId);
}
