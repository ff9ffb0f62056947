namespace Tributary.Broker.ShareGroups;

/// <summary>One <c>AcknowledgementBatches</c> entry: one type for the whole range, or one per offset.</summary>
public sealed record AcknowledgementBatch(long FirstOffset, long LastOffset, IReadOnlyList<sbyte> Types);
