namespace Tributary.Storage.Producers;

/// <summary>What DescribeProducers reports about one producer of a partition.</summary>
/// <param name="LastSequence">Sequence of the last record appended by the current epoch, -1 when none.</param>
/// <param name="CurrentTransactionFirstOffset">First offset of the producer's open transaction, -1 when none.</param>
public sealed record ProducerStateInfo(
    long ProducerId,
    short ProducerEpoch,
    int LastSequence,
    long LastTimestampMs,
    int CoordinatorEpoch,
    long CurrentTransactionFirstOffset);
