using System.Buffers.Binary;
using Tributary.Protocol.Records;

namespace Tributary.Storage.Tests;

/// <summary>
/// Builds real uncompressed v2 record batches (the 61-byte header plus records) as a producer would send them, and
/// decodes stored batches back into (offset, value) pairs so tests can check what a consumer would see.
/// </summary>
public static class RecordBatchBuilder
{
    /// <summary>One batch with a record per value; record i gets timestamp baseTimestampMs + i.</summary>
    public static byte[] Build(IReadOnlyList<byte[]> values, long baseTimestampMs = 1_700_000_000_000, long baseOffset = 0)
    {
        var records = new List<byte>();
        for (var i = 0; i < values.Count; i++)
        {
            var body = new List<byte> { 0 }; // record attributes
            WriteVarLong(body, i); // timestamp delta
            WriteVarLong(body, i); // offset delta
            WriteVarLong(body, -1); // null key
            WriteVarLong(body, values[i].Length);
            body.AddRange(values[i]);
            WriteVarLong(body, 0); // no headers
            WriteVarLong(records, body.Count);
            records.AddRange(body);
        }

        var batch = new byte[RecordBatchHeader.Size + records.Count];
        var span = batch.AsSpan();
        BinaryPrimitives.WriteInt64BigEndian(span[RecordBatchHeader.BaseOffsetOffset..], baseOffset);
        BinaryPrimitives.WriteInt32BigEndian(span[RecordBatchHeader.BatchLengthOffset..], batch.Length - RecordBatchHeader.LogOverhead);
        BinaryPrimitives.WriteInt32BigEndian(span[RecordBatchHeader.PartitionLeaderEpochOffset..], -1);
        span[RecordBatchHeader.MagicOffset] = 2;
        BinaryPrimitives.WriteInt16BigEndian(span[RecordBatchHeader.AttributesOffset..], 0);
        BinaryPrimitives.WriteInt32BigEndian(span[RecordBatchHeader.LastOffsetDeltaOffset..], values.Count - 1);
        BinaryPrimitives.WriteInt64BigEndian(span[RecordBatchHeader.BaseTimestampOffset..], baseTimestampMs);
        BinaryPrimitives.WriteInt64BigEndian(span[RecordBatchHeader.MaxTimestampOffset..], baseTimestampMs + values.Count - 1);
        BinaryPrimitives.WriteInt64BigEndian(span[RecordBatchHeader.ProducerIdOffset..], -1);
        BinaryPrimitives.WriteInt16BigEndian(span[RecordBatchHeader.ProducerEpochOffset..], -1);
        BinaryPrimitives.WriteInt32BigEndian(span[RecordBatchHeader.BaseSequenceOffset..], -1);
        BinaryPrimitives.WriteInt32BigEndian(span[RecordBatchHeader.RecordCountOffset..], values.Count);
        records.CopyTo(batch, RecordBatchHeader.Size);
        BinaryPrimitives.WriteUInt32BigEndian(span[RecordBatchHeader.CrcOffset..], RecordBatchHeader.ComputeCrc(batch));
        return batch;
    }

    /// <summary>A batch of <paramref name="count"/> records whose values are "label-0", "label-1", ...</summary>
    public static byte[] Build(string label, int count, long baseTimestampMs = 1_700_000_000_000) =>
        Build(Enumerable.Range(0, count).Select(i => Value($"{label}-{i}")).ToArray(), baseTimestampMs);

    public static byte[] Value(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    public static byte[] Concat(params byte[][] batches) => batches.SelectMany(b => b).ToArray();

    /// <summary>Headers of the stored batches, in order; also checks each one is whole and its CRC is valid.</summary>
    public static List<RecordBatchHeader> ReadHeaders(ReadOnlyMemory<byte> stored)
    {
        var headers = new List<RecordBatchHeader>();
        var span = stored.Span;
        while (!span.IsEmpty)
        {
            var header = RecordBatchHeader.Read(span);
            Assert.True(header.TotalSize <= span.Length, "a stored batch is cut short");
            Assert.True(RecordBatchHeader.IsCrcValid(span[..header.TotalSize]), $"batch at offset {header.BaseOffset} has a bad CRC");
            headers.Add(header);
            span = span[header.TotalSize..];
        }

        return headers;
    }

    /// <summary>Every record in the stored batches as (offset, value text).</summary>
    public static List<(long Offset, string Value)> ReadRecords(ReadOnlyMemory<byte> stored)
    {
        var result = new List<(long, string)>();
        var remaining = stored;
        foreach (var header in ReadHeaders(stored))
        {
            var batch = remaining.Span[..header.TotalSize];
            var position = RecordBatchHeader.Size;
            for (var i = 0; i < header.RecordCount; i++)
            {
                var length = (int)ReadVarLong(batch, ref position);
                var end = position + length;
                position++; // attributes
                ReadVarLong(batch, ref position); // timestamp delta
                var offsetDelta = ReadVarLong(batch, ref position);
                var keyLength = (int)ReadVarLong(batch, ref position);
                position += Math.Max(0, keyLength);
                var valueLength = (int)ReadVarLong(batch, ref position);
                result.Add((header.BaseOffset + offsetDelta, System.Text.Encoding.UTF8.GetString(batch.Slice(position, valueLength))));
                position = end;
            }

            remaining = remaining[header.TotalSize..];
        }

        return result;
    }

    private static void WriteVarLong(List<byte> output, long value)
    {
        var zigZag = (ulong)((value << 1) ^ (value >> 63));
        while (zigZag >= 0x80)
        {
            output.Add((byte)(zigZag | 0x80));
            zigZag >>= 7;
        }

        output.Add((byte)zigZag);
    }

    private static long ReadVarLong(ReadOnlySpan<byte> data, ref int position)
    {
        ulong zigZag = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = data[position++];
            zigZag |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                break;
            }
        }

        return (long)(zigZag >> 1) ^ -(long)(zigZag & 1);
    }
}
