using Microsoft.Extensions.Logging;
using Tributary.Broker.Groups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;

namespace Tributary.Broker.Transactions;

// Ending a transaction: Prepare is persisted under the lock, then a round of markers is sent WITHOUT the lock (a
// marker may wait seconds for a leader, its ISR or a timeout, and every other transactional id must go on meanwhile),
// then the result is applied under the lock again. While a round is out the transaction stays PrepareCommit or
// PrepareAbort: its producer's EndTxn, InitProducerId, AddPartitionsToTxn and AddOffsetsToTxn answer
// CONCURRENT_TRANSACTIONS and its transactional produce is refused (INVALID_TXN_STATE), so no batch lands after its
// marker; one round per transaction is out at a time (TransactionMetadata.MarkersInFlight). A round whose transaction
// changed meanwhile (its partition was resigned, or loaded again) applies nothing.
//
// Every marker carries the coordinator epoch: Kafka's leader epoch of the __transaction_state partition that holds the
// transactional id, as this broker learnt it when it became that partition's leader (0 on a single node). A partition
// leader refuses a marker older than the last one it wrote for the producer (TRANSACTION_COORDINATOR_FENCED,
// ProducerStateManager.Check), so a deposed coordinator cannot end a transaction its successor has decided; the epoch of
// each producer's last marker is in the marker records and the producer state snapshots, so the check survives
// restarts and moves with the partition's leadership. A coordinator whose marker is fenced stops sending that
// transaction's markers and answers its producer NOT_COORDINATOR (Kafka's TransactionMarkerRequestCompletionHandler
// gives the transaction up so): another broker coordinates it now.
public sealed partial class TransactionCoordinator
{
    // The coordinator epoch of each partition of __transaction_state this broker coordinates in cluster mode: its
    // leader epoch when this broker became its leader. Written under _lock; absent on a single node (epoch 0).
    private readonly Dictionary<int, int> _coordinatorEpochs = [];

    /// <summary>The coordinator epoch that the markers of the transactional id's transactions carry.</summary>
    public int CoordinatorEpochFor(string transactionalId)
    {
        lock (_lock)
        {
            return CoordinatorEpochOf(_store.PartitionFor(transactionalId));
        }
    }

    // Caller holds _lock.
    private int CoordinatorEpochOf(int partition) => _coordinatorEpochs.GetValueOrDefault(partition);

    /// <summary>Prepares the transaction's end and persists it; the state as it was when the disk refused. Caller holds _lock.</summary>
    private bool Prepare(TransactionMetadata t, bool commit)
    {
        var previous = t.State;
        t.State = commit ? TransactionState.PrepareCommit : TransactionState.PrepareAbort;
        if (!Persist(t))
        {
            t.State = previous;
            return false;
        }

        return true;
    }

    /// <summary>A round of markers for a prepared transaction, unless one is out already or its markers were fenced. Caller holds _lock.</summary>
    private MarkerRound? TakeMarkerRound(TransactionMetadata t)
    {
        if (t.State is not (TransactionState.PrepareCommit or TransactionState.PrepareAbort) || t.MarkersInFlight || t.MarkersFenced)
        {
            return null;
        }

        t.MarkersInFlight = true;
        return new MarkerRound(
            t, t.State, t.ProducerId, t.ProducerEpoch, CoordinatorEpochOf(_store.PartitionFor(t.TransactionalId)), [.. t.Partitions], LogFailures: !MarkersLogged(t));
    }

    private bool MarkersFenced(TransactionMetadata? t)
    {
        lock (_lock)
        {
            return t?.MarkersFenced == true;
        }
    }

    /// <summary>
    /// Sends a round's markers (the caller must NOT hold _lock) and applies the result: true when the transaction
    /// completed. A step refused leaves it prepared; it is tried again by the next EndTxn or InitProducerId of its id, at
    /// the next start and, in cluster mode, in the background (TransactionCoordinator.MarkerRetry.cs). A marker fenced
    /// by a newer coordinator ends this coordinator's part in the transaction.
    /// </summary>
    private bool RunMarkerRound(MarkerRound round)
    {
        var sent = new MarkersSentResult([], AllWritten: false, Fenced: false);
        try
        {
            sent = _broker.Cluster is null ? SendLocalMarkers(round) : SendClusterMarkers(round);
        }
        catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException)
        {
            // The broker is stopping and closed a log or the replicas under the round: nothing more is written; the next
            // start or coordinator completes the transaction from its prepared record.
        }
        finally
        {
            lock (_lock)
            {
                round.Transaction.MarkersInFlight = false;
            }
        }

        lock (_lock)
        {
            // Stopped (disposed under this lock, before the logs close): the round applies nothing, so a round still out
            // when the broker stops never writes to a closed log.
            var t = round.Transaction;
            if (_markerRetryStopped || !_transactions.TryGetValue(t.TransactionalId, out var current) || !ReferenceEquals(current, t)
                || t.State != round.State || t.ProducerId != round.ProducerId || t.ProducerEpoch != round.ProducerEpoch)
            {
                return false;
            }

            t.Partitions.ExceptWith(sent.Written);
            if (sent.Fenced)
            {
                t.MarkersFenced = true;
                _markersPending.Remove(t.TransactionalId);
                LogMarkersFenced(t.TransactionalId, round.CoordinatorEpoch);
                return false;
            }

            if (_broker.Cluster is not null)
            {
                MarkersSent(t, sent.AllWritten);
            }

            if (!sent.AllWritten)
            {
                return false;
            }

            t.State = round.Commit ? TransactionState.CompleteCommit : TransactionState.CompleteAbort;
            t.ClearTransaction();
            return Persist(t);
        }
    }

    // A single node: each marker appended to the local log, the partitions of __consumer_offsets last (the group
    // coordinator writes their marker and applies or drops the offsets).
    private MarkersSentResult SendLocalMarkers(MarkerRound round)
    {
        var written = new List<(string Topic, int Partition)>();
        foreach (var (topicName, partition) in round.Partitions.OrderBy(p => p.Topic == OffsetsTopicStore.TopicName))
        {
            // A partition whose topic was deleted meanwhile has nothing left to end; one that is offline (its log could
            // not be opened) still has, so the transaction stays prepared until the marker is written.
            var (error, _, _) = AppendMarker(topicName, partition, round.ProducerId, round.ProducerEpoch, round.Commit, round.CoordinatorEpoch, round.Transaction.TransactionalId);
            if (error is not (ErrorCode.None or ErrorCode.UnknownTopicOrPartition))
            {
                return new MarkersSentResult(written, AllWritten: false, Fenced: IsFenced(error));
            }

            written.Add((topicName, partition));
        }

        return new MarkersSentResult(written, AllWritten: true, Fenced: false);
    }

    // Cluster mode: each partition's marker goes to its leader, this broker's own partitions directly and the others'
    // with WriteTxnMarkers (BrokerCore.TxnMarkerSender), as Kafka's coordinator sends them. A partition without a live
    // leader, or whose marker was refused, is not written, and the transaction stays prepared while the markers are
    // sent again (TransactionCoordinator.MarkerRetry.cs).
    private MarkersSentResult SendClusterMarkers(MarkerRound round)
    {
        var cluster = _broker.Cluster!;
        var written = new List<(string Topic, int Partition)>();
        var remote = new Dictionary<int, List<(string Topic, int Partition)>>();
        var (missing, fenced) = (false, false);
        foreach (var (topicName, partition) in round.Partitions)
        {
            if (!cluster.TryGetPartition(topicName, partition, out var state))
            {
                // A partition of a deleted topic has nothing left to end.
                if (_broker.Metadata.Find(topicName) is null)
                {
                    written.Add((topicName, partition));
                }
                else
                {
                    missing = true;
                }

                continue;
            }

            if (state.Leader == _broker.NodeId)
            {
                var error = WriteMarkerAsync(topicName, partition, round.ProducerId, round.ProducerEpoch, round.Commit, round.CoordinatorEpoch).GetAwaiter().GetResult();
                if (error == ErrorCode.None)
                {
                    written.Add((topicName, partition));
                }
                else
                {
                    missing = true;
                    fenced |= IsFenced(error);
                    if (round.LogFailures)
                    {
                        LogRemoteMarkerFailed(round.Transaction.TransactionalId, topicName, partition, _broker.NodeId, error.ToString());
                    }
                }
            }
            else if (state.Leader < 0 || !cluster.TryGetBroker(state.Leader, out _))
            {
                missing = true;
            }
            else
            {
                if (!remote.TryGetValue(state.Leader, out var partitions))
                {
                    partitions = [];
                    remote[state.Leader] = partitions;
                }

                partitions.Add((topicName, partition));
            }
        }

        foreach (var (leader, partitions) in remote)
        {
            var (done, refused) = SendMarkers(leader, partitions, round);
            written.AddRange(done);
            missing |= done.Count < partitions.Count;
            fenced |= refused;
        }

        return new MarkersSentResult(written, !missing, fenced);
    }

    // A partition refused the marker because a newer coordinator (or producer epoch) wrote one: Kafka's
    // TransactionMarkerRequestCompletionHandler gives the transaction up on either.
    private static bool IsFenced(ErrorCode error) => error is ErrorCode.TransactionCoordinatorFenced or ErrorCode.InvalidProducerEpoch;

    /// <summary>The partitions whose marker <paramref name="leader"/> wrote (none when it could not be reached), and whether it fenced one.</summary>
    private (List<(string Topic, int Partition)> Written, bool Fenced) SendMarkers(int leader, List<(string Topic, int Partition)> partitions, MarkerRound round)
    {
        if (_broker.TxnMarkerSender is not { } send || !_broker.Cluster!.TryGetBroker(leader, out var node))
        {
            return ([], false);
        }

        var request = new WriteTxnMarkersRequest
        {
            Markers =
            [
                new WriteTxnMarkersRequest.WritableTxnMarker
                {
                    ProducerId = round.ProducerId,
                    ProducerEpoch = round.ProducerEpoch,
                    TransactionResult = round.Commit,
                    CoordinatorEpoch = round.CoordinatorEpoch,
                    Topics = [.. partitions.GroupBy(p => p.Topic).Select(g => new WriteTxnMarkersRequest.WritableTxnMarkerTopic { Name = g.Key, PartitionIndexes = [.. g.Select(p => p.Partition)] })],
                },
            ],
        };
        try
        {
            var response = send(node, request, CancellationToken.None).WaitAsync(MarkerSendTimeout).GetAwaiter().GetResult();
            var results = response.Markers.SelectMany(m => m.Topics).SelectMany(tp => tp.Partitions.Select(p => (tp.Name, p.PartitionIndex, Error: (ErrorCode)p.ErrorCode))).ToList();
            var failed = results.FirstOrDefault(r => r.Error != ErrorCode.None);
            if (failed.Name is not null && (round.LogFailures || IsFenced(failed.Error)))
            {
                LogRemoteMarkerFailed(round.Transaction.TransactionalId, failed.Name, failed.PartitionIndex, leader, failed.Error.ToString());
            }

            return ([.. results.Where(r => r.Error == ErrorCode.None && partitions.Contains((r.Name, r.PartitionIndex))).Select(r => (r.Name, r.PartitionIndex))],
                results.Any(r => IsFenced(r.Error)));
        }
        catch (Exception e) when (e is IOException or TimeoutException or InvalidOperationException or ProtocolException or System.Net.Sockets.SocketException)
        {
            if (round.LogFailures)
            {
                LogRemoteMarkerFailed(round.Transaction.TransactionalId, partitions[0].Topic, partitions[0].Partition, leader, e.Message);
            }

            return ([], false);
        }
    }

    /// <summary>
    /// Appends the commit or abort marker of the producer's transaction to a partition this broker leads and, in
    /// cluster mode, waits until its ISR has it, as Kafka appends markers with acks=all: a marker only the leader held
    /// would vanish with it, leaving the new leader's transaction open for good while the coordinator thinks it
    /// complete (the partition's last stable offset stuck, the producer's next transaction merged into it). For
    /// <c>__consumer_offsets</c> the group coordinator also applies or drops the transaction's offsets. This broker's
    /// part of WriteTxnMarkers, and of ending a transaction whose partition it leads. NOT_ENOUGH_REPLICAS(_AFTER_APPEND),
    /// NOT_LEADER_OR_FOLLOWER or REQUEST_TIMED_OUT (after <see cref="MarkerReplicationTimeoutMs"/>) make the coordinator
    /// send the marker again; a marker written twice is harmless. A marker whose <paramref name="coordinatorEpoch"/> is
    /// below the one of the producer's last marker on the partition is TRANSACTION_COORDINATOR_FENCED, one whose
    /// producer epoch is below the partition's INVALID_PRODUCER_EPOCH (Kafka's checks), and is not written.
    /// </summary>
    public async Task<ErrorCode> WriteMarkerAsync(string topicName, int partition, long producerId, short producerEpoch, bool commit, int coordinatorEpoch)
    {
        var (error, offset, minInsyncReplicas) = AppendMarker(topicName, partition, producerId, producerEpoch, commit, coordinatorEpoch, transactionalId: null);
        if (error != ErrorCode.None || offset < 0 || _broker.Replicas is not { } replicas)
        {
            return error;
        }

        return await replicas.WaitForReplicationAsync(topicName, partition, offset, minInsyncReplicas, MarkerReplicationTimeoutMs).ConfigureAwait(false);
    }

    // The marker appended on this leader: its offset (-1 for __consumer_offsets, whose coordinator replicates its own
    // writes) and the topic's min.insync.replicas, or the error that kept it out.
    private (ErrorCode Error, long Offset, int MinInsyncReplicas) AppendMarker(
        string topicName, int partition, long producerId, short producerEpoch, bool commit, int coordinatorEpoch, string? transactionalId)
    {
        var who = transactionalId ?? "(producer " + producerId.ToString(System.Globalization.CultureInfo.InvariantCulture) + ")";
        if (topicName == OffsetsTopicStore.TopicName)
        {
            var error = _broker.Groups.CoordinatorErrorOf(partition) != ErrorCode.None ? ErrorCode.NotLeaderOrFollower
                : _broker.Groups.CompleteTransaction(partition, producerId, producerEpoch, commit, coordinatorEpoch);
            if (IsFenced(error))
            {
                LogMarkerRefused(who, topicName, partition, error.ToString());
            }

            return (error, -1, 1);
        }

        if (_broker.Metadata.Find(topicName) is not { } topic || partition < 0 || partition >= topic.PartitionCount)
        {
            return (ErrorCode.UnknownTopicOrPartition, -1, 1);
        }

        var minInsyncReplicas = _broker.SettingsFor(topic).MinInsyncReplicas;
        if (_broker.Replicas?.CheckProduce(topicName, partition, acks: -1, minInsyncReplicas) is { } check && check != ErrorCode.None)
        {
            return (check, -1, minInsyncReplicas);
        }

        try
        {
            var log = _broker.FindLog(topic, partition) ?? throw new IOException($"{topicName}-{partition} is offline");
            var marker = new EndTransactionMarker(commit ? ControlRecordType.Commit : ControlRecordType.Abort, coordinatorEpoch);
            var appended = log.AppendChecked(RecordBatchBuilder.BuildEndTransactionMarker(marker, producerId, producerEpoch, NowMs));
            if (appended.Error != ErrorCode.None)
            {
                LogMarkerRefused(who, topicName, partition, appended.ErrorMessage ?? appended.Error.ToString());
                return (appended.Error, -1, minInsyncReplicas);
            }

            return (ErrorCode.None, appended.Append.FirstOffset, minInsyncReplicas);
        }
        catch (Storage.NotLeaderException)
        {
            return (ErrorCode.NotLeaderOrFollower, -1, minInsyncReplicas);
        }
        catch (IOException e)
        {
            LogMarkerFailed(e, who, topicName, partition);
            return (ErrorCode.KafkaStorageError, -1, minInsyncReplicas);
        }
    }

    /// <summary>What one round of markers sends, as the transaction was when the round was taken.</summary>
    private sealed record MarkerRound(
        TransactionMetadata Transaction, TransactionState State, long ProducerId, short ProducerEpoch, int CoordinatorEpoch,
        List<(string Topic, int Partition)> Partitions, bool LogFailures)
    {
        public bool Commit => State == TransactionState.PrepareCommit;
    }

    /// <summary>The partitions of a round whose marker was written; whether all were; whether a newer coordinator fenced one.</summary>
    private readonly record struct MarkersSentResult(List<(string Topic, int Partition)> Written, bool AllWritten, bool Fenced);

    [LoggerMessage(EventId = 1120, Level = LogLevel.Warning, Message = "The transaction marker of {TransactionalId} for {Topic}-{Partition} was refused: {Reason}")]
    private partial void LogMarkerRefused(string transactionalId, string topic, int partition, string reason);

    [LoggerMessage(EventId = 1121, Level = LogLevel.Warning, Message = "A marker of {TransactionalId} from coordinator epoch {CoordinatorEpoch} was fenced by a newer coordinator; this broker stops completing the transaction and answers its producer NOT_COORDINATOR")]
    private partial void LogMarkersFenced(string transactionalId, int coordinatorEpoch);
}
