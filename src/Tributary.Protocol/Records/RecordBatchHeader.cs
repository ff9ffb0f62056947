using System.Buffers.Binary;

namespace Tributary.Protocol.Records;

/// <summary>
/// The fixed 61-byte header of a v2 record batch (magic 2). Offsets of each field are part of Kafka's
/// on-disk and on-wire format and therefore fixed forever.
/// </summary>
public readonly record struct RecordBatchHeader(
    long BaseOffset,
    int BatchLength,
    int PartitionLeaderEpoch,
    sbyte Magic,
    uint Crc,
    short Attributes,
    int LastOffsetDelta,
    long BaseTimestamp,
    long MaxTimestamp,
    long ProducerId,
    short ProducerEpoch,
    int BaseSequence,
    int RecordCount)
{
    public const int Size = 61;

    /// <summary>Bytes before <c>batchLength</c> counts: base offset and the length itself.</summary>
    public const int LogOverhead = 12;

    public const int BaseOffsetOffset = 0;
    public const int BatchLengthOffset = 8;
    public const int PartitionLeaderEpochOffset = 12;
    public const int MagicOffset = 16;
    public const int CrcOffset = 17;
    public const int AttributesOffset = 21;
    public const int LastOffsetDeltaOffset = 23;
    public const int BaseTimestampOffset = 27;
    public const int MaxTimestampOffset = 35;
    public const int ProducerIdOffset = 43;
    public const int ProducerEpochOffset = 51;
    public const int BaseSequenceOffset = 53;
    public const int RecordCountOffset = 57;

    public const int CompressionCodecMask = 0x07;
    public const int TimestampTypeFlag = 0x08;
    public const int TransactionalFlag = 0x10;
    public const int ControlFlag = 0x20;
    public const int DeleteHorizonFlag = 0x40;

    /// <summary>Whole size of the batch in bytes, header included.</summary>
    public int TotalSize => LogOverhead + BatchLength;

    public long LastOffset => BaseOffset + LastOffsetDelta;

    public long NextOffset => LastOffset + 1;

    public CompressionType Compression => (CompressionType)(Attributes & CompressionCodecMask);

    public bool IsLogAppendTime => (Attributes & TimestampTypeFlag) != 0;

    public bool IsTransactional => (Attributes & TransactionalFlag) != 0;

    public bool IsControl => (Attributes & ControlFlag) != 0;

    /// <summary>
    /// Reads the header at the start of <paramref name="batch"/>. Throws <see cref="ProtocolException"/> when the
    /// bytes are too short, the magic is not 2, or the length fields are impossible.
    /// </summary>
    public static RecordBatchHeader Read(ReadOnlySpan<byte> batch)
    {
        if (batch.Length < MagicOffset + 1)
        {
            throw new ProtocolException($"record batch truncated: {batch.Length} bytes, the header needs {Size}");
        }

        var magic = (sbyte)batch[MagicOffset];
        if (magic != 2)
        {
            throw new ProtocolException($"record batch magic {magic} is not supported: only magic 2 (Kafka 0.11+) batches are accepted");
        }

        if (batch.Length < Size)
        {
            throw new ProtocolException($"record batch truncated: {batch.Length} bytes, the header needs {Size}");
        }

        var header = new RecordBatchHeader(
            BinaryPrimitives.ReadInt64BigEndian(batch[BaseOffsetOffset..]),
            BinaryPrimitives.ReadInt32BigEndian(batch[BatchLengthOffset..]),
            BinaryPrimitives.ReadInt32BigEndian(batch[PartitionLeaderEpochOffset..]),
            magic,
            BinaryPrimitives.ReadUInt32BigEndian(batch[CrcOffset..]),
            BinaryPrimitives.ReadInt16BigEndian(batch[AttributesOffset..]),
            BinaryPrimitives.ReadInt32BigEndian(batch[LastOffsetDeltaOffset..]),
            BinaryPrimitives.ReadInt64BigEndian(batch[BaseTimestampOffset..]),
            BinaryPrimitives.ReadInt64BigEndian(batch[MaxTimestampOffset..]),
            BinaryPrimitives.ReadInt64BigEndian(batch[ProducerIdOffset..]),
            BinaryPrimitives.ReadInt16BigEndian(batch[ProducerEpochOffset..]),
            BinaryPrimitives.ReadInt32BigEndian(batch[BaseSequenceOffset..]),
            BinaryPrimitives.ReadInt32BigEndian(batch[RecordCountOffset..]));

        if (header.BatchLength < Size - LogOverhead)
        {
            throw new ProtocolException($"record batch length {header.BatchLength} is shorter than the v2 header");
        }

        if (header.LastOffsetDelta < 0 || header.RecordCount < 0)
        {
            throw new ProtocolException($"record batch has negative last offset delta {header.LastOffsetDelta} or record count {header.RecordCount}");
        }

        return header;
    }

    /// <summary>CRC32C (Castagnoli) over the bytes from attributes to the end of the batch, as magic 2 defines it.</summary>
    public static uint ComputeCrc(ReadOnlySpan<byte> wholeBatch) => Crc32C.Compute(wholeBatch[AttributesOffset..]);

    /// <summary>True when the stored CRC matches the batch's bytes. <paramref name="wholeBatch"/> is exactly one batch.</summary>
    public static bool IsCrcValid(ReadOnlySpan<byte> wholeBatch) =>
        wholeBatch.Length >= Size && BinaryPrimitives.ReadUInt32BigEndian(wholeBatch[CrcOffset..]) == ComputeCrc(wholeBatch);

    /// <summary>Sets the max timestamp of one whole batch and recomputes its CRC, which covers it.</summary>
    public static void WriteMaxTimestamp(Span<byte> wholeBatch, long maxTimestamp)
    {
        BinaryPrimitives.WriteInt64BigEndian(wholeBatch[MaxTimestampOffset..], maxTimestamp);
        BinaryPrimitives.WriteUInt32BigEndian(wholeBatch[CrcOffset..], ComputeCrc(wholeBatch));
    }

    public static void WriteBaseOffset(Span<byte> batch, long baseOffset) =>
        BinaryPrimitives.WriteInt64BigEndian(batch[BaseOffsetOffset..], baseOffset);

    /// <summary>Partition leader epoch is outside the CRC, so the leader can stamp it without recomputing.</summary>
    public static void WritePartitionLeaderEpoch(Span<byte> batch, int epoch) =>
        BinaryPrimitives.WriteInt32BigEndian(batch[PartitionLeaderEpochOffset..], epoch);
}
