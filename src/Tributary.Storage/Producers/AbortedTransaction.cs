namespace Tributary.Storage.Producers;

/// <summary>
/// One aborted transaction of a partition, as Kafka's transaction index records it: the producer, the offset of its
/// first batch in the transaction and the offset of the abort marker that ended it.
/// </summary>
public readonly record struct AbortedTransaction(long ProducerId, long FirstOffset, long LastOffset);
