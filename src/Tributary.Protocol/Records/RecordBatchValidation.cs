namespace Tributary.Protocol.Records;

/// <summary>
/// The outcome of <see cref="RecordBatchValidator.Validate"/>: either the headers of every batch and the total
/// record count, or the first error found with a reason precise enough to log.
/// </summary>
public sealed class RecordBatchValidation
{
    private RecordBatchValidation(RecordBatchError error, string? reason, IReadOnlyList<RecordBatchHeader> batches, IReadOnlyList<long> maxRecordTimestamps, long recordCount, IReadOnlyList<long> keylessRecords)
    {
        KeylessRecords = keylessRecords;
        Error = error;
        Reason = reason;
        Batches = batches;
        MaxRecordTimestamps = maxRecordTimestamps;
        RecordCount = recordCount;
    }

    public RecordBatchError Error { get; }

    public string? Reason { get; }

    public bool IsValid => Error == RecordBatchError.None;

    /// <summary>Headers of the batches in order; empty when validation failed.</summary>
    public IReadOnlyList<RecordBatchHeader> Batches { get; }

    public int BatchCount => Batches.Count;

    /// <summary>
    /// Per batch, the largest timestamp of its records (base timestamp plus the largest delta), which Kafka stores as
    /// the batch's max timestamp whatever the producer wrote there; -1 for a batch without records.
    /// </summary>
    public IReadOnlyList<long> MaxRecordTimestamps { get; }

    public long RecordCount { get; }

    /// <summary>Indexes (from 0 across all batches) of the records without a key, when keys were required; else empty.</summary>
    public IReadOnlyList<long> KeylessRecords { get; }

    internal static RecordBatchValidation Valid(IReadOnlyList<RecordBatchHeader> batches, IReadOnlyList<long> maxRecordTimestamps, long recordCount, IReadOnlyList<long> keylessRecords) =>
        new(RecordBatchError.None, null, batches, maxRecordTimestamps, recordCount, keylessRecords);

    internal static RecordBatchValidation Invalid(RecordBatchError error, string reason) =>
        new(error, reason, [], [], 0, []);

    public override string ToString() =>
        IsValid ? $"valid: {BatchCount} batches, {RecordCount} records" : $"{Error}: {Reason}";
}
