using System.Buffers;
using System.Buffers.Binary;
using Tributary.Protocol;
using Tributary.Protocol.Compression;
using Tributary.Protocol.Records;

namespace Tributary.Fuzz;

/// <summary>
/// The records of a produce request: <see cref="RecordBatchValidator"/> with small decompression limits, then, for
/// batches it accepts, what the broker does with them later (iterating records and headers, reading control records,
/// recompressing to a topic's codec). The first input byte is a mode, the rest the batches:
/// <list type="bullet">
/// <item>bit 0: each batch's length is set to the bytes that follow it; bit 1: each batch's CRC is set to the one
/// its bytes give, so mutations get past both checks to the codecs and records.</item>
/// <item>bit 2: instead, the rest is decompressed as it is with the codec in bits 3-4 (gzip, snappy, lz4, zstd).</item>
/// </list>
/// A refusal is a result (or a <see cref="ProtocolException"/> from a codec); an exception, a leaked scratch
/// reservation, or an accepted batch that then fails to read or recompress is a bug.
/// </summary>
public static class RecordBatchTarget
{
    /// <summary>Small limits, so bombs and oversized outputs are found within the fuzzer's input sizes.</summary>
    private const int DecompressedBytesMax = 256 * 1024;

    private const long ScratchBudgetBytes = 1 << 20;

    public static void Run(byte[] input)
    {
        // An empty input validates no batches: every input reaches instrumented code (Program.cs).
        var mode = input.Length == 0 ? (byte)0 : input[0];
        var batches = input.AsMemory(Math.Min(1, input.Length));
        if ((mode & 0x04) != 0)
        {
            Decompress((CompressionType)(1 + ((mode >> 3) & 0x03)), batches.Span);
            return;
        }

        FixUp(batches.Span, fixLengths: (mode & 0x01) != 0, fixCrcs: (mode & 0x02) != 0);
        var budget = new ByteBudget(ScratchBudgetBytes);
        var validation = RecordBatchValidator.Validate(batches, DecompressedBytesMax, budget, requireKeys: true);
        if (budget.UsedBytes != 0)
        {
            throw new FuzzFailureException($"validation left {budget.UsedBytes} scratch bytes reserved");
        }

        if (!validation.IsValid)
        {
            return;
        }

        var position = 0;
        foreach (var header in validation.Batches)
        {
            var batch = RecordBatch.Read(batches[position..]);
            var records = Read(batch);
            Recompress(batch, header, records);
            position += header.TotalSize;
        }

        if (position != batches.Length)
        {
            throw new FuzzFailureException($"validation accepted {position} of {batches.Length} bytes");
        }
    }

    private static void Decompress(CompressionType codec, ReadOnlySpan<byte> compressed)
    {
        try
        {
            var written = CompressionCodec.Decompress(codec, compressed, new ArrayBufferWriter<byte>(), DecompressedBytesMax);
            if (written > DecompressedBytesMax)
            {
                throw new FuzzFailureException($"{codec} wrote {written} bytes past its limit of {DecompressedBytesMax}");
            }
        }
        catch (ProtocolException)
        {
        }
    }

    /// <summary>Reads every record of an accepted batch as a fetch or the producer state would; returns how many.</summary>
    private static int Read(RecordBatch batch)
    {
        var scratch = new ArrayBufferWriter<byte>();
        var records = batch.Header.Compression == CompressionType.None ? batch.Records : batch.DecompressRecords(scratch, DecompressedBytesMax);
        var count = 0;
        foreach (var record in records)
        {
            foreach (var header in record.Headers)
            {
                _ = header.DecodeKey();
            }

            if (batch.Header.IsControl)
            {
                try
                {
                    _ = EndTransactionMarker.Read(record);
                }
                catch (ProtocolException)
                {
                    // A control record a client made up: the produce handler's to refuse, not the validator's.
                }
            }

            count++;
        }

        return count;
    }

    /// <summary>A topic's compression.type rewrites the batch: it must stay valid, with the same records.</summary>
    private static void Recompress(RecordBatch batch, RecordBatchHeader header, int recordCount)
    {
        var target = (CompressionType)(((int)header.Compression + 1) % ((int)CompressionType.Zstd + 1));
        var rewritten = RecordBatch.Recompress(batch.Bytes.Span, target, DecompressedBytesMax);
        var again = RecordBatchValidator.Validate(rewritten, DecompressedBytesMax);
        if (!again.IsValid || again.RecordCount != recordCount)
        {
            throw new FuzzFailureException($"{header.Compression} batch of {recordCount} records recompressed to {target} is not the same batch: {again}");
        }
    }

    private static void FixUp(Span<byte> batches, bool fixLengths, bool fixCrcs)
    {
        var position = 0;
        while (batches.Length - position >= RecordBatchHeader.Size)
        {
            var batch = batches[position..];
            var length = BinaryPrimitives.ReadInt32BigEndian(batch[RecordBatchHeader.BatchLengthOffset..]);
            if (fixLengths)
            {
                length = batch.Length - RecordBatchHeader.LogOverhead;
                BinaryPrimitives.WriteInt32BigEndian(batch[RecordBatchHeader.BatchLengthOffset..], length);
            }

            if (length < RecordBatchHeader.Size - RecordBatchHeader.LogOverhead || length > batch.Length - RecordBatchHeader.LogOverhead)
            {
                return;
            }

            batch = batch[..(RecordBatchHeader.LogOverhead + length)];
            if (fixCrcs)
            {
                BinaryPrimitives.WriteUInt32BigEndian(batch[RecordBatchHeader.CrcOffset..], RecordBatchHeader.ComputeCrc(batch));
            }

            position += batch.Length;
        }
    }
}
