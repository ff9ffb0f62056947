using System.Buffers.Binary;
using Tributary.Protocol.Records;

namespace Tributary.Protocol.Tests.Records;

/// <summary>Helpers to edit built batches: change a field, then re-stamp the CRC so only that field is wrong.</summary>
internal static class TestBatches
{
    public static void RestampCrc(Span<byte> batch) =>
        BinaryPrimitives.WriteUInt32BigEndian(batch[RecordBatchHeader.CrcOffset..], RecordBatchHeader.ComputeCrc(batch));

    public static byte[] Sample(CompressionType compression = CompressionType.None, int recordCount = 3)
    {
        var builder = new RecordBatchBuilder { Compression = compression, ProducerId = 7, ProducerEpoch = 1, BaseSequence = 0 };
        for (var i = 0; i < recordCount; i++)
        {
            builder.Add(1_700_000_000_000 + i, i % 3 == 0 ? null : [(byte)i], "value-"u8.ToArray().Concat(BitConverter.GetBytes(i)).ToArray(), [("h", [(byte)i]), ("n", null)]);
        }

        return builder.Build();
    }

    /// <summary>A batch whose records section is given verbatim, with a correct header and CRC.</summary>
    public static byte[] WithRecordsSection(ReadOnlySpan<byte> section, int recordCount, CompressionType compression = CompressionType.None)
    {
        var batch = new byte[RecordBatchHeader.Size + section.Length];
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.BatchLengthOffset), batch.Length - RecordBatchHeader.LogOverhead);
        batch[RecordBatchHeader.MagicOffset] = 2;
        BinaryPrimitives.WriteInt16BigEndian(batch.AsSpan(RecordBatchHeader.AttributesOffset), (short)compression);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.LastOffsetDeltaOffset), Math.Max(recordCount - 1, 0));
        BinaryPrimitives.WriteInt64BigEndian(batch.AsSpan(RecordBatchHeader.ProducerIdOffset), -1);
        BinaryPrimitives.WriteInt16BigEndian(batch.AsSpan(RecordBatchHeader.ProducerEpochOffset), -1);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.BaseSequenceOffset), -1);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.RecordCountOffset), recordCount);
        section.CopyTo(batch.AsSpan(RecordBatchHeader.Size));
        RestampCrc(batch);
        return batch;
    }
}
