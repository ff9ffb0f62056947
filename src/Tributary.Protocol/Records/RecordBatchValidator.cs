using System.Buffers.Binary;
using Tributary.Protocol.Compression;

namespace Tributary.Protocol.Records;

/// <summary>
/// Checks the <c>records</c> of a ProduceRequest partition before anything is appended: every batch is whole,
/// magic 2, CRC32C-valid, and its records parse to exactly the count its header declares, compressed batches
/// decompressed under a size limit. Bad input is a result, never an exception. How many batches a produce
/// request may carry (Kafka: exactly one for v3+) is the handler's rule, not this one's. With
/// <c>requireKeys</c> (a compacted topic) the same walk over the records lists those without a key.
/// </summary>
public static class RecordBatchValidator
{
    /// <summary>Default bound on one batch's decompressed records section.</summary>
    public const int DecompressedBytesMaxDefault = 64 * 1024 * 1024;

    /// <summary>How long a batch waits for room in the decompression scratch budget before it is refused.</summary>
    public static readonly TimeSpan ScratchWaitMax = TimeSpan.FromSeconds(5);

    /// <param name="records">The partition's records.</param>
    /// <param name="decompressedBytesMax">Bound on one batch's decompressed records section.</param>
    /// <param name="scratchBudget">
    /// Broker-wide bound on decompression scratch bytes; a batch that finds no room within <see cref="ScratchWaitMax"/>
    /// is <see cref="RecordBatchError.ScratchMemoryUnavailable"/>. Null: unbounded.
    /// </param>
    /// <param name="requireKeys">List the records without a key (a compacted topic refuses them).</param>
    public static RecordBatchValidation Validate(ReadOnlyMemory<byte> records, int decompressedBytesMax = DecompressedBytesMaxDefault, ByteBudget? scratchBudget = null, bool requireKeys = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(decompressedBytesMax);
        var batches = new List<RecordBatchHeader>(1);
        var maxTimestamps = new List<long>(1);
        long recordCount = 0;
        List<long>? keyless = null;
        var position = 0;
        PooledBufferWriter? scratch = null;
        try
        {
            while (position < records.Length)
            {
                var batchStart = position;
                var (error, reason, batchLength) = ValidateOne(records[position..], ref scratch, decompressedBytesMax, scratchBudget, requireKeys ? recordCount : -1, ref keyless, out var header, out var maxTimestamp);
                if (error != RecordBatchError.None)
                {
                    return RecordBatchValidation.Invalid(error, $"batch {batches.Count} at byte {batchStart}: {reason}");
                }

                batches.Add(header);
                maxTimestamps.Add(maxTimestamp);
                recordCount += header.RecordCount;
                position += batchLength;
            }

            return RecordBatchValidation.Valid(batches, maxTimestamps, recordCount, keyless ?? (IReadOnlyList<long>)[]);
        }
        finally
        {
            scratch?.Dispose();
        }
    }

    /// <summary>The output chunk the streaming codecs ask for at a time.</summary>
    private const int ScratchChunkBytes = 64 * 1024;

    // keylessFrom >= 0: the index of the batch's first record among all the batches, for listing its keyless records.
    private static (RecordBatchError Error, string? Reason, int Length) ValidateOne(
        ReadOnlyMemory<byte> data, ref PooledBufferWriter? scratch, int decompressedBytesMax, ByteBudget? scratchBudget, long keylessFrom, ref List<long>? keyless, out RecordBatchHeader header, out long maxTimestamp)
    {
        header = default;
        maxTimestamp = -1;
        var span = data.Span;

        // Magic sits at byte 16 in every message format (v0/v1 messages too), so old formats are recognised
        // before their different layout is misread as a v2 header.
        if (span.Length > RecordBatchHeader.MagicOffset)
        {
            var magic = (sbyte)span[RecordBatchHeader.MagicOffset];
            if (magic is 0 or 1)
            {
                return (RecordBatchError.UnsupportedMagic, $"magic {magic} (the message format of clients before Kafka 0.11) is not supported: only magic 2 record batches are accepted", 0);
            }

            if (magic != 2)
            {
                return (RecordBatchError.CorruptMessage, $"magic {magic} is not a Kafka record format", 0);
            }
        }

        if (span.Length < RecordBatchHeader.Size)
        {
            return (RecordBatchError.CorruptMessage, $"truncated: {span.Length} bytes left, a batch header needs {RecordBatchHeader.Size}", 0);
        }

        var batchLength = BinaryPrimitives.ReadInt32BigEndian(span[RecordBatchHeader.BatchLengthOffset..]);
        if (batchLength < RecordBatchHeader.Size - RecordBatchHeader.LogOverhead)
        {
            return (RecordBatchError.CorruptMessage, $"batch length {batchLength} is shorter than the v2 header", 0);
        }

        if (batchLength > span.Length - RecordBatchHeader.LogOverhead)
        {
            return (RecordBatchError.CorruptMessage, $"batch length {batchLength} runs past the {span.Length - RecordBatchHeader.LogOverhead} bytes that follow it", 0);
        }

        var batch = data[..(RecordBatchHeader.LogOverhead + batchLength)];
        try
        {
            header = RecordBatchHeader.Read(batch.Span);
        }
        catch (ProtocolException e)
        {
            return (RecordBatchError.CorruptMessage, e.Reason, 0);
        }

        var computedCrc = RecordBatchHeader.ComputeCrc(batch.Span);
        if (computedCrc != header.Crc)
        {
            return (RecordBatchError.CorruptMessage, $"CRC32C mismatch: the batch says 0x{header.Crc:x8}, its bytes give 0x{computedCrc:x8}", 0);
        }

        if ((int)header.Compression > (int)CompressionType.Zstd)
        {
            return (RecordBatchError.UnsupportedCompressionType, $"compression codec {(int)header.Compression} is not defined by Kafka", 0);
        }

        // An empty batch (left behind by compaction) keeps the last offset delta of the records it had.
        if (header.RecordCount > 0 && header.LastOffsetDelta != header.RecordCount - 1)
        {
            return (RecordBatchError.InvalidRecord, $"last offset delta {header.LastOffsetDelta} does not match record count {header.RecordCount}", 0);
        }

        var recordsSection = batch[RecordBatchHeader.Size..];
        if (header.Compression != CompressionType.None)
        {
            try
            {
                // Doubling stops at the most a codec can need: the limit, the byte that proves it exceeded, a chunk.
                scratch ??= new PooledBufferWriter(Math.Min(decompressedBytesMax, Math.Max(4096, recordsSection.Length * 4)),
                    scratchBudget, ScratchWaitMax, (long)decompressedBytesMax + 1 + ScratchChunkBytes);
                scratch.Clear();
                CompressionCodec.Decompress(header.Compression, recordsSection.Span, scratch, decompressedBytesMax);
            }
            catch (ProtocolException e)
            {
                return (DecompressionLimit.IsExceeded(e) ? RecordBatchError.DecompressedTooLarge : RecordBatchError.CorruptMessage, e.Reason, 0);
            }
            catch (ScratchMemoryUnavailableException e)
            {
                return (RecordBatchError.ScratchMemoryUnavailable, e.Message, 0);
            }

            recordsSection = scratch.WrittenMemory;
        }

        try
        {
            var expectedOffsetDelta = 0;
            var maxTimestampDelta = long.MinValue;
            foreach (var record in new RecordCollection(recordsSection, header.RecordCount))
            {
                maxTimestampDelta = Math.Max(maxTimestampDelta, record.TimestampDelta);

                // Offsets are assigned by rewriting only the base offset, so the deltas must already be 0..n-1.
                if (record.OffsetDelta != expectedOffsetDelta)
                {
                    return (RecordBatchError.InvalidRecord, $"record {expectedOffsetDelta} has offset delta {record.OffsetDelta}", 0);
                }

                if (keylessFrom >= 0 && record.Key is null)
                {
                    (keyless ??= []).Add(keylessFrom + expectedOffsetDelta);
                }

                expectedOffsetDelta++;
            }

            maxTimestamp = expectedOffsetDelta == 0 ? -1 : header.BaseTimestamp + maxTimestampDelta;
        }
        catch (ProtocolException e)
        {
            return (RecordBatchError.CorruptMessage, e.Reason, 0);
        }

        return (RecordBatchError.None, null, batch.Length);
    }
}
