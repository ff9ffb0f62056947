namespace Tributary.Storage.Segments;

/// <summary>One entry of a <see cref="TransactionIndex"/>.</summary>
internal readonly record struct TransactionIndexEntry(long ProducerId, long FirstOffset, long LastOffset, long LastStableOffset);
