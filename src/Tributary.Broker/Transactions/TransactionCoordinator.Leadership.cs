using Microsoft.Extensions.Logging;
using Tributary.Broker.InternalTopics;
using Tributary.Protocol;

namespace Tributary.Broker.Transactions;

// Cluster mode: this broker coordinates the transactional ids of the partitions of __transaction_state it leads
// (BrokerCore.CoordinatorsFollow tells it, partition by partition, with the partition's leader epoch: the coordinator
// epoch of its markers). Becoming a partition's leader loads its ids from that partition's log and completes the
// transactions found prepared, as a start does (CoordinatorLeadership); losing it drops them. A single node coordinates
// every partition and loads them in the constructor.
public sealed partial class TransactionCoordinator
{
    private readonly CoordinatorLeadership _leadership;

    private CoordinatorLeadership CreateLeadership() => new(_lock,
        partition => LogBecameCoordinator(partition, LoadTransactions(partition)),
        UnloadTransactions,
        (partition, e) => LogLoadFailed(e, partition));

    /// <summary>None while this broker coordinates the transactional id; else the error its requests answer with.</summary>
    public ErrorCode CoordinatorErrorFor(string transactionalId) => _leadership.Error(_store.PartitionFor(transactionalId));

    /// <summary>Whether a transaction state partition this broker leads is still loading, so a listing of its ids would miss some.</summary>
    public bool LoadingAny => _leadership.AnyLoading;

    /// <summary>
    /// This broker leads a transaction state partition at <paramref name="leaderEpoch"/>, the coordinator epoch the
    /// markers of its transactional ids carry from now on: loads it in the background. Told again at the same epoch (its
    /// ISR changed) nothing happens; at a newer epoch than the one it coordinates the partition at, another broker may
    /// have led it in between (a term this broker did not see), so its state is dropped and loaded again, as Kafka's
    /// TransactionStateManager replaces a partition's cache loaded at an older coordinator epoch.
    /// </summary>
    public void BecomeCoordinator(int partition, int leaderEpoch)
    {
        lock (_lock)
        {
            if (_coordinatorEpochs.TryGetValue(partition, out var known))
            {
                if (known >= leaderEpoch)
                {
                    return;
                }

                LogReloading(partition, leaderEpoch, known);
                _leadership.Resign(partition);
            }

            _coordinatorEpochs[partition] = leaderEpoch;
            _leadership.Become(partition);
        }
    }

    /// <summary>This broker no longer leads a transaction state partition: its transactions are dropped.</summary>
    public void Resign(int partition)
    {
        if (_leadership.Resign(partition))
        {
            LogResigned(partition);
        }
    }

    [LoggerMessage(EventId = 1547, Level = LogLevel.Information, Message = "This broker leads __transaction_state-{Partition} and coordinates its {TransactionalIds} transactional ids")]
    private partial void LogBecameCoordinator(int partition, int transactionalIds);

    [LoggerMessage(EventId = 1548, Level = LogLevel.Information, Message = "This broker no longer leads __transaction_state-{Partition}; its transactions were unloaded")]
    private partial void LogResigned(int partition);

    [LoggerMessage(EventId = 1122, Level = LogLevel.Information, Message = "This broker leads __transaction_state-{Partition} at leader epoch {LeaderEpoch}, newer than the {Known} it coordinated it at; its transactions are loaded again")]
    private partial void LogReloading(int partition, int leaderEpoch, int known);

    [LoggerMessage(EventId = 1549, Level = LogLevel.Error, Message = "Loading the transactions of __transaction_state-{Partition} failed")]
    private partial void LogLoadFailed(Exception exception, int partition);
}
