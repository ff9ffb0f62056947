namespace Tributary.Broker.Transactions;

/// <summary>A snapshot of one transactional id, for DescribeTransactions and ListTransactions.</summary>
public sealed record TransactionDescription(
    string TransactionalId,
    long ProducerId,
    short ProducerEpoch,
    int TimeoutMs,
    TransactionState State,
    long StartTimeMs,
    IReadOnlyList<(string Topic, int Partition)> Partitions);
