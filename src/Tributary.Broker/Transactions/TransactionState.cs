namespace Tributary.Broker.Transactions;

/// <summary>
/// Kafka's transaction states; the names are what DescribeTransactions and ListTransactions report, and the numbers
/// are stored in <c>__transaction_state</c> (fixed forever).
/// </summary>
public enum TransactionState : sbyte
{
    Empty = 0,
    Ongoing = 1,
    PrepareCommit = 2,
    PrepareAbort = 3,
    CompleteCommit = 4,
    CompleteAbort = 5,
    Dead = 6,
}
