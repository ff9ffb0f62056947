namespace Tributary.Storage.Cleaning;

/// <summary>What decides whether a record survives one clean of a log.</summary>
/// <param name="Map">Latest offset per key in the dirty range the clean covers.</param>
/// <param name="MapEndOffset">One past the last offset the map covers; batches from here on are kept as they are.</param>
/// <param name="ProducerLastOffsets">Last offset of each producer's newest batch: that batch is kept even when emptied.</param>
internal sealed record CompactionRules(OffsetMap Map, long MapEndOffset, long NowMs, long DeleteRetentionMs, IReadOnlyDictionary<long, long> ProducerLastOffsets);
