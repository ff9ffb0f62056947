namespace Tributary.Broker.ShareGroups;

/// <summary>
/// What one ShareFetch may still acquire from a share partition: <see cref="MaxRecords"/> records (record_limit: never
/// more; batch_optimized: more to finish a stored batch), AcquiredRecords ranges closed at the first batch boundary at
/// or past <see cref="BatchSize"/> records, and stored batches of at most <see cref="MaxBytes"/> bytes in all, except
/// that the response's first batch is always returned when <see cref="FirstBatchAlways"/> (KIP-74).
/// </summary>
internal readonly record struct AcquireLimits(int MaxRecords, int BatchSize, bool RecordLimit, long MaxBytes, bool FirstBatchAlways);
