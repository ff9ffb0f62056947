namespace Tributary.Storage.Producers;

/// <summary>One producer in a <see cref="ProducerSnapshot"/>, the fields of Kafka's snapshot entry in their order.</summary>
/// <param name="LastSequence">Last sequence of the producer's newest batch, -1 when it has none.</param>
/// <param name="LastOffset">Last offset of that batch, -1 when none.</param>
/// <param name="OffsetDelta">Last offset minus first offset of that batch.</param>
/// <param name="CurrentTxnFirstOffset">First offset of the producer's open transaction, -1 when none.</param>
internal readonly record struct ProducerSnapshotEntry(
    long ProducerId,
    short Epoch,
    int LastSequence,
    long LastOffset,
    int OffsetDelta,
    long TimestampMs,
    int CoordinatorEpoch,
    long CurrentTxnFirstOffset);
