using Microsoft.Extensions.Logging;
using Tributary.Protocol;

namespace Tributary.Broker.Transactions;

// Cluster mode: this broker coordinates transactions only while it leads __transaction_state (BrokerCore.
// CoordinatorsFollow tells it). Becoming leader loads every transactional id from the log and completes the
// transactions found prepared, as a start does (COORDINATOR_LOAD_IN_PROGRESS meanwhile); losing leadership drops them
// (NOT_COORDINATOR). A single node always coordinates and loads in the constructor.
public sealed partial class TransactionCoordinator
{
    private volatile CoordinatorState _state;
    private long _leadershipGeneration;

    /// <summary>None while this broker coordinates transactions; else the error transactional requests answer with.</summary>
    public ErrorCode CoordinatorError => _state switch
    {
        CoordinatorState.Active => ErrorCode.None,
        CoordinatorState.Loading => ErrorCode.CoordinatorLoadInProgress,
        _ => ErrorCode.NotCoordinator,
    };

    /// <summary>This broker became leader of the transaction state partition: loads it in the background.</summary>
    public void BecomeCoordinator()
    {
        long generation;
        lock (_lock)
        {
            if (_state != CoordinatorState.NotCoordinator)
            {
                return;
            }

            _state = CoordinatorState.Loading;
            generation = ++_leadershipGeneration;
        }

        _ = Task.Run(() => LoadAsLeader(generation));
    }

    /// <summary>This broker no longer leads the transaction state partition: its transactions are dropped.</summary>
    public void Resign()
    {
        lock (_lock)
        {
            if (_state == CoordinatorState.NotCoordinator)
            {
                return;
            }

            _state = CoordinatorState.NotCoordinator;
            _leadershipGeneration++;
            _transactions.Clear();
            _byProducerId.Clear();
            ScheduleTimeoutTimer();
        }

        LogResigned();
    }

    private void LoadAsLeader(long generation)
    {
        lock (_lock)
        {
            if (generation != _leadershipGeneration)
            {
                return;
            }

            try
            {
                // Active first: completing a prepared transaction persists it, and a failed persist leaves it prepared.
                _state = CoordinatorState.Active;
                LoadTransactions();
                LogBecameCoordinator(_transactions.Count);
            }
            catch (Exception e) when (BrokerCore.IsStorageFailure(e))
            {
                LogLoadFailed(e);
                _state = CoordinatorState.Loading;
                _transactions.Clear();
                _byProducerId.Clear();
            }
        }
    }

    private enum CoordinatorState
    {
        NotCoordinator,
        Loading,
        Active,
    }

    [LoggerMessage(EventId = 1547, Level = LogLevel.Information, Message = "This broker leads __transaction_state and coordinates its {TransactionalIds} transactional ids")]
    private partial void LogBecameCoordinator(int transactionalIds);

    [LoggerMessage(EventId = 1548, Level = LogLevel.Information, Message = "This broker no longer leads __transaction_state; its transactions were unloaded")]
    private partial void LogResigned();

    [LoggerMessage(EventId = 1549, Level = LogLevel.Error, Message = "Loading the transactions of __transaction_state failed")]
    private partial void LogLoadFailed(Exception exception);
}
