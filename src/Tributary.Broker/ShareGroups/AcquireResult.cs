namespace Tributary.Broker.ShareGroups;

/// <summary>The ranges one acquisition took, how many records they hold, and the bytes of the stored batches holding them.</summary>
internal sealed record AcquireResult(List<AcquiredRange> Ranges, int Count, long Bytes);
