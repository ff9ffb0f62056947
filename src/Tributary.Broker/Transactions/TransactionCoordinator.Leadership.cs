using Microsoft.Extensions.Logging;
using Tributary.Broker.InternalTopics;
using Tributary.Protocol;

namespace Tributary.Broker.Transactions;

// Cluster mode: this broker coordinates transactions only while it leads __transaction_state (BrokerCore.
// CoordinatorsFollow tells it). Becoming leader loads every transactional id from the log and completes the
// transactions found prepared, as a start does (CoordinatorLeadership); losing leadership drops them. A single node
// always coordinates and loads in the constructor.
public sealed partial class TransactionCoordinator
{
    private readonly CoordinatorLeadership _leadership;

    private CoordinatorLeadership CreateLeadership() => new(_lock,
        () =>
        {
            LoadTransactions();
            LogBecameCoordinator(_transactions.Count);
        },
        () =>
        {
            _transactions.Clear();
            _byProducerId.Clear();
            ScheduleTimeoutTimer();
        },
        LogLoadFailed);

    /// <summary>None while this broker coordinates transactions; else the error transactional requests answer with.</summary>
    public ErrorCode CoordinatorError => _leadership.Error;

    /// <summary>This broker became leader of the transaction state partition: loads it in the background.</summary>
    public void BecomeCoordinator() => _leadership.Become();

    /// <summary>This broker no longer leads the transaction state partition: its transactions are dropped.</summary>
    public void Resign()
    {
        if (_leadership.Resign())
        {
            LogResigned();
        }
    }

    [LoggerMessage(EventId = 1547, Level = LogLevel.Information, Message = "This broker leads __transaction_state and coordinates its {TransactionalIds} transactional ids")]
    private partial void LogBecameCoordinator(int transactionalIds);

    [LoggerMessage(EventId = 1548, Level = LogLevel.Information, Message = "This broker no longer leads __transaction_state; its transactions were unloaded")]
    private partial void LogResigned();

    [LoggerMessage(EventId = 1549, Level = LogLevel.Error, Message = "Loading the transactions of __transaction_state failed")]
    private partial void LogLoadFailed(Exception exception);
}
