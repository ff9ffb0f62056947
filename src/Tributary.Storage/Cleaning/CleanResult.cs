namespace Tributary.Storage.Cleaning;

/// <summary>What one clean of one log did.</summary>
/// <param name="FirstDirtyOffset">Where the next clean of this log starts building its key map.</param>
public sealed record CleanResult(
    string Topic,
    int Partition,
    long BytesRead,
    long BytesBefore,
    long BytesAfter,
    long RecordsRemoved,
    int SegmentsReplaced,
    long FirstDirtyOffset)
{
    public long BytesReclaimed => BytesBefore - BytesAfter;
}
