namespace Tributary.Broker.ShareGroups;

/// <summary>Consecutive offsets acquired by one ShareFetch with the same delivery count (<c>AcquiredRecords</c>).</summary>
public readonly record struct AcquiredRange(long FirstOffset, long LastOffset, short DeliveryCount);
