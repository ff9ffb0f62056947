using System.Buffers.Binary;
using System.Text;
using Tributary.Protocol.Compression;

namespace Tributary.Protocol.Records;

/// <summary>
/// Builds one v2 record batch: for internal topics, tools and tests (producers send their own batches,
/// the broker never rebuilds them). Records get offset deltas 0..n-1; the base timestamp is the first
/// record's, as Kafka's producer does.
/// </summary>
public sealed class RecordBatchBuilder
{
    private readonly List<PendingRecord> _records = [];

    public CompressionType Compression { get; set; } = CompressionType.None;

    public long BaseOffset { get; set; }

    public int PartitionLeaderEpoch { get; set; } = -1;

    /// <summary>-1 means no idempotent producer.</summary>
    public long ProducerId { get; set; } = -1;

    public short ProducerEpoch { get; set; } = -1;

    public int BaseSequence { get; set; } = -1;

    public bool IsTransactional { get; set; }

    public bool IsControl { get; set; }

    public int Count => _records.Count;

    public RecordBatchBuilder Add(long timestamp, byte[]? key, byte[]? value, IReadOnlyList<(string Key, byte[]? Value)>? headers = null)
    {
        _records.Add(new PendingRecord(timestamp, key, value, headers ?? []));
        return this;
    }

    public byte[] Build()
    {
        var baseTimestamp = _records.Count == 0 ? -1 : _records[0].Timestamp;
        var maxTimestamp = _records.Count == 0 ? -1 : _records.Max(r => r.Timestamp);

        using var uncompressed = new PooledBufferWriter();
        WriteRecords(uncompressed, baseTimestamp);

        using var compressed = new PooledBufferWriter();
        var section = uncompressed.WrittenSpan;
        if (Compression != CompressionType.None)
        {
            CompressionCodec.Compress(Compression, section, compressed);
            section = compressed.WrittenSpan;
        }

        var attributes = (short)Compression;
        if (IsTransactional)
        {
            attributes |= RecordBatchHeader.TransactionalFlag;
        }

        if (IsControl)
        {
            attributes |= RecordBatchHeader.ControlFlag;
        }

        var batch = new byte[RecordBatchHeader.Size + section.Length];
        var span = batch.AsSpan();
        BinaryPrimitives.WriteInt64BigEndian(span[RecordBatchHeader.BaseOffsetOffset..], BaseOffset);
        BinaryPrimitives.WriteInt32BigEndian(span[RecordBatchHeader.BatchLengthOffset..], batch.Length - RecordBatchHeader.LogOverhead);
        BinaryPrimitives.WriteInt32BigEndian(span[RecordBatchHeader.PartitionLeaderEpochOffset..], PartitionLeaderEpoch);
        span[RecordBatchHeader.MagicOffset] = 2;
        BinaryPrimitives.WriteInt16BigEndian(span[RecordBatchHeader.AttributesOffset..], attributes);
        BinaryPrimitives.WriteInt32BigEndian(span[RecordBatchHeader.LastOffsetDeltaOffset..], Math.Max(_records.Count - 1, 0));
        BinaryPrimitives.WriteInt64BigEndian(span[RecordBatchHeader.BaseTimestampOffset..], baseTimestamp);
        BinaryPrimitives.WriteInt64BigEndian(span[RecordBatchHeader.MaxTimestampOffset..], maxTimestamp);
        BinaryPrimitives.WriteInt64BigEndian(span[RecordBatchHeader.ProducerIdOffset..], ProducerId);
        BinaryPrimitives.WriteInt16BigEndian(span[RecordBatchHeader.ProducerEpochOffset..], ProducerEpoch);
        BinaryPrimitives.WriteInt32BigEndian(span[RecordBatchHeader.BaseSequenceOffset..], BaseSequence);
        BinaryPrimitives.WriteInt32BigEndian(span[RecordBatchHeader.RecordCountOffset..], _records.Count);
        section.CopyTo(span[RecordBatchHeader.Size..]);

        // The CRC covers attributes to the end, so it is written last.
        BinaryPrimitives.WriteUInt32BigEndian(span[RecordBatchHeader.CrcOffset..], RecordBatchHeader.ComputeCrc(span));
        return batch;
    }

    /// <summary>A control batch holding one commit or abort marker for a producer's transaction.</summary>
    public static byte[] BuildEndTransactionMarker(EndTransactionMarker marker, long producerId, short producerEpoch, long timestamp, long baseOffset = 0)
    {
        var builder = new RecordBatchBuilder
        {
            BaseOffset = baseOffset,
            ProducerId = producerId,
            ProducerEpoch = producerEpoch,
            IsTransactional = true,
            IsControl = true,
        };
        return builder.Add(timestamp, marker.EncodeKey(), marker.EncodeValue()).Build();
    }

    private void WriteRecords(PooledBufferWriter output, long baseTimestamp)
    {
        var writer = new KafkaWriter(output);
        for (var i = 0; i < _records.Count; i++)
        {
            var record = _records[i];
            var timestampDelta = record.Timestamp - baseTimestamp;
            var bodyBytes = 1 + VarIntSize.OfSignedLong(timestampDelta) + VarIntSize.OfSigned(i)
                + SizeOfNullableBytes(record.Key) + SizeOfNullableBytes(record.Value)
                + VarIntSize.OfSigned(record.Headers.Count);
            foreach (var (headerKey, headerValue) in record.Headers)
            {
                ArgumentNullException.ThrowIfNull(headerKey);
                var keyBytes = Encoding.UTF8.GetByteCount(headerKey);
                bodyBytes += VarIntSize.OfSigned(keyBytes) + keyBytes + SizeOfNullableBytes(headerValue);
            }

            writer.WriteVarInt(bodyBytes);
            writer.WriteInt8(0);
            writer.WriteVarLong(timestampDelta);
            writer.WriteVarInt(i);
            WriteNullableBytes(ref writer, record.Key);
            WriteNullableBytes(ref writer, record.Value);
            writer.WriteVarInt(record.Headers.Count);
            foreach (var (headerKey, headerValue) in record.Headers)
            {
                var keyBytes = Encoding.UTF8.GetBytes(headerKey);
                writer.WriteVarInt(keyBytes.Length);
                writer.WriteRawBytes(keyBytes);
                WriteNullableBytes(ref writer, headerValue);
            }
        }
    }

    private static int SizeOfNullableBytes(byte[]? value) =>
        value is null ? VarIntSize.OfSigned(-1) : VarIntSize.OfSigned(value.Length) + value.Length;

    private static void WriteNullableBytes(ref KafkaWriter writer, byte[]? value)
    {
        if (value is null)
        {
            writer.WriteVarInt(-1);
            return;
        }

        writer.WriteVarInt(value.Length);
        writer.WriteRawBytes(value);
    }

    private readonly record struct PendingRecord(long Timestamp, byte[]? Key, byte[]? Value, IReadOnlyList<(string Key, byte[]? Value)> Headers);
}
