using System.Buffers;
using System.Buffers.Binary;
using Tributary.Protocol.Compression;

namespace Tributary.Protocol.Records;

/// <summary>One whole v2 batch as bytes, with its header read. Reading it checks lengths, not the CRC.</summary>
public readonly struct RecordBatch
{
    private RecordBatch(RecordBatchHeader header, ReadOnlyMemory<byte> bytes)
    {
        Header = header;
        Bytes = bytes;
    }

    public RecordBatchHeader Header { get; }

    /// <summary>The batch exactly, header included.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>The bytes after the header: the records, compressed when the batch is.</summary>
    public ReadOnlyMemory<byte> RecordsSection => Bytes[RecordBatchHeader.Size..];

    /// <summary>
    /// Reads the batch at the start of <paramref name="data"/> (which may hold more batches after it).
    /// Throws <see cref="ProtocolException"/> when the header is invalid or the batch runs past the data.
    /// </summary>
    public static RecordBatch Read(ReadOnlyMemory<byte> data)
    {
        var header = RecordBatchHeader.Read(data.Span);
        if (header.TotalSize > data.Length || header.TotalSize < 0)
        {
            throw new ProtocolException($"record batch declares {header.TotalSize} bytes but only {data.Length} remain");
        }

        return new RecordBatch(header, data[..header.TotalSize]);
    }

    public bool IsCrcValid => RecordBatchHeader.IsCrcValid(Bytes.Span);

    /// <summary>
    /// A copy of one whole batch with its records section compressed with <paramref name="target"/> instead: the
    /// records' encoding does not depend on the codec, so only the section, the codec bits of the attributes, the
    /// batch length and the CRC change. Throws <see cref="ProtocolException"/> when the section does not decompress
    /// within <paramref name="decompressedBytesMax"/>.
    /// </summary>
    public static byte[] Recompress(ReadOnlySpan<byte> wholeBatch, CompressionType target, int decompressedBytesMax)
    {
        var header = RecordBatchHeader.Read(wholeBatch);
        var section = wholeBatch[RecordBatchHeader.Size..header.TotalSize];
        using var plain = new PooledBufferWriter(Math.Max(4096, section.Length));
        if (header.Compression != CompressionType.None)
        {
            CompressionCodec.Decompress(header.Compression, section, plain, decompressedBytesMax);
            section = plain.WrittenSpan;
        }

        using var packed = new PooledBufferWriter(Math.Max(4096, section.Length));
        if (target != CompressionType.None)
        {
            CompressionCodec.Compress(target, section, packed);
            section = packed.WrittenSpan;
        }

        var batch = new byte[RecordBatchHeader.Size + section.Length];
        wholeBatch[..RecordBatchHeader.Size].CopyTo(batch);
        section.CopyTo(batch.AsSpan(RecordBatchHeader.Size));
        var attributes = (short)((header.Attributes & ~RecordBatchHeader.CompressionCodecMask) | (int)target);
        BinaryPrimitives.WriteInt16BigEndian(batch.AsSpan(RecordBatchHeader.AttributesOffset), attributes);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.BatchLengthOffset), batch.Length - RecordBatchHeader.LogOverhead);
        BinaryPrimitives.WriteUInt32BigEndian(batch.AsSpan(RecordBatchHeader.CrcOffset), RecordBatchHeader.ComputeCrc(batch));
        return batch;
    }

    /// <summary>The records of an uncompressed batch. A compressed batch must go through <see cref="DecompressRecords"/>.</summary>
    public RecordCollection Records => Header.Compression == CompressionType.None
        ? new RecordCollection(RecordsSection, Header.RecordCount)
        : throw new InvalidOperationException($"batch is compressed with {Header.Compression}: call DecompressRecords");

    /// <summary>
    /// Decompresses the records section into <paramref name="scratch"/> (cleared first) and returns the records
    /// over it; they stay valid until the scratch buffer is reused.
    /// </summary>
    public RecordCollection DecompressRecords(ArrayBufferWriter<byte> scratch, int decompressedBytesMax)
    {
        ArgumentNullException.ThrowIfNull(scratch);
        scratch.ResetWrittenCount();
        CompressionCodec.Decompress(Header.Compression, RecordsSection.Span, scratch, decompressedBytesMax);
        return new RecordCollection(scratch.WrittenMemory, Header.RecordCount);
    }
}
