using System.Buffers.Binary;
using Tributary.Protocol.Records;

namespace Tributary.Storage.Segments;

/// <summary>
/// The header fields the log needs to walk stored batches, read from the first bytes of a batch without the
/// validation <see cref="RecordBatchHeader.Read"/> does (stored batches were validated when appended or recovered).
/// </summary>
internal readonly record struct BatchPrefix(long BaseOffset, int TotalSize, long LastOffset, long MaxTimestampMs)
{
    /// <summary>Bytes up to and including maxTimestamp.</summary>
    public const int Bytes = RecordBatchHeader.MaxTimestampOffset + sizeof(long);

    public static BatchPrefix Read(ReadOnlySpan<byte> batch)
    {
        var baseOffset = BinaryPrimitives.ReadInt64BigEndian(batch[RecordBatchHeader.BaseOffsetOffset..]);
        return new BatchPrefix(
            baseOffset,
            RecordBatchHeader.LogOverhead + BinaryPrimitives.ReadInt32BigEndian(batch[RecordBatchHeader.BatchLengthOffset..]),
            baseOffset + BinaryPrimitives.ReadInt32BigEndian(batch[RecordBatchHeader.LastOffsetDeltaOffset..]),
            BinaryPrimitives.ReadInt64BigEndian(batch[RecordBatchHeader.MaxTimestampOffset..]));
    }
}
