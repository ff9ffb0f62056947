using System.Buffers;
using System.Buffers.Binary;
using Tributary.Protocol;
using Tributary.Protocol.Compression;
using Tributary.Protocol.Records;
using Tributary.Storage.Producers;

namespace Tributary.Storage.Cleaning;

/// <summary>
/// Compacts one stored v2 batch as Kafka's cleaner does (MemoryRecords.filterTo). A record is dropped when a later
/// record has its key, when it has no key, or when it is a tombstone (null value) whose batch's delete horizon has
/// passed. A rewritten batch keeps its base offset, last offset delta, producer id, epoch and base sequence, so
/// offsets and idempotence state never change; records keep their bytes and offset deltas, and the records section is
/// compressed again with the batch's codec. A batch whose tombstones are kept gets a delete horizon (KIP-534: the
/// delete-horizon attribute, the horizon in the base timestamp and record timestamps re-based on it), after which a
/// later clean drops them.
/// Transactions, as Kafka's cleaner treats them: an aborted transaction's batches go (its records never entered the
/// key map); a committed one's records are compacted like any other; a transaction marker stays while any batch of
/// its transaction is kept, and once none is, it gets a delete horizon and goes after it. One instance serves one
/// pass over a log's segments in offset order, which the marker rule relies on.
/// </summary>
internal sealed class BatchCompactor(IReadOnlyList<AbortedTransaction> aborted)
{
    /// <summary>Largest decompressed records section the cleaner handles, as produce validation allows.</summary>
    private const int DecompressedBytesMax = RecordBatchValidator.DecompressedBytesMaxDefault;

    private readonly ArrayBufferWriter<byte> _plain = new(64 * 1024);
    private readonly ArrayBufferWriter<byte> _records = new(64 * 1024);
    private readonly ArrayBufferWriter<byte> _packed = new(64 * 1024);
    private readonly ArrayBufferWriter<byte> _batch = new(64 * 1024);

    private readonly Dictionary<long, List<AbortedTransaction>> _abortedByProducer = aborted
        .GroupBy(a => a.ProducerId)
        .ToDictionary(g => g.Key, g => g.ToList());

    // Producers whose current transaction has a batch kept in this pass: its marker must stay.
    private readonly HashSet<long> _transactionsWithData = [];

    /// <summary>Adds the keys of a batch's records to <paramref name="map"/>; control batches and aborted transactions add none.</summary>
    public void AddKeys(ReadOnlyMemory<byte> batch, OffsetMap map)
    {
        var read = RecordBatch.Read(batch);
        if (read.Header.IsControl || (read.Header.IsTransactional && IsAborted(read.Header)))
        {
            return;
        }

        foreach (var record in Records(read))
        {
            if (record.Key is { } key)
            {
                map.Put(key.Span, read.Header.BaseOffset + record.OffsetDelta);
            }
        }
    }

    /// <summary>
    /// The batch as it is kept: the same memory when nothing changes, a rewritten batch (valid until the next call),
    /// or false when it goes entirely. <paramref name="removed"/> counts the records dropped.
    /// </summary>
    public bool TryCompact(ReadOnlyMemory<byte> batch, CompactionRules rules, out ReadOnlyMemory<byte> kept, out int removed)
    {
        kept = batch;
        removed = 0;
        var read = RecordBatch.Read(batch);
        var header = read.Header;
        if (header.BaseOffset >= rules.MapEndOffset)
        {
            return true;
        }

        if (header.IsControl)
        {
            return TryKeepMarker(read, rules, out kept, out removed);
        }

        if (header.IsTransactional && IsAborted(header))
        {
            removed = header.RecordCount;
            if (IsProducersLastBatch(header, rules))
            {
                _transactionsWithData.Add(header.ProducerId); // its (empty) batch stays, so must its marker
                kept = EmptyBatch(read.Bytes.Span, header);
                return true;
            }

            return false;
        }

        var keptAny = TryFilter(read, rules, out kept, out removed);
        if (keptAny && header.IsTransactional)
        {
            _transactionsWithData.Add(header.ProducerId);
        }

        return keptAny;
    }

    /// <summary>Filters the records of a data batch (see the class summary).</summary>
    private bool TryFilter(RecordBatch read, CompactionRules rules, out ReadOnlyMemory<byte> kept, out int removed)
    {
        kept = read.Bytes;
        removed = 0;
        var header = read.Header;

        var hasHorizon = (header.Attributes & RecordBatchHeader.DeleteHorizonFlag) != 0;
        var tombstonesKept = false;
        var maxTimestampMs = -1L;
        _records.ResetWrittenCount();
        var section = Records(read);
        var sectionSpan = header.Compression == CompressionType.None ? read.RecordsSection.Span : _plain.WrittenSpan;
        var position = 0;
        var keptRecords = 0;
        foreach (var record in section)
        {
            var raw = sectionSpan.Slice(position, record.SizeInBytes);
            position += record.SizeInBytes;
            if (!Retains(record, header, hasHorizon, rules))
            {
                removed++;
                continue;
            }

            keptRecords++;
            tombstonesKept |= record.Value is null;
            maxTimestampMs = Math.Max(maxTimestampMs, header.BaseTimestamp + record.TimestampDelta);
            _records.Write(raw);
        }

        var newHorizon = tombstonesKept && !hasHorizon;
        if (removed == 0 && !newHorizon)
        {
            return true;
        }

        if (keptRecords == 0)
        {
            // Kafka keeps a producer's newest batch, emptied, so its sequence numbers survive for idempotence.
            if (IsProducersLastBatch(header, rules))
            {
                kept = EmptyBatch(read.Bytes.Span, header);
                return true;
            }

            return false;
        }

        var baseTimestampMs = header.BaseTimestamp;
        if (newHorizon)
        {
            baseTimestampMs = rules.NowMs + rules.DeleteRetentionMs;
            RebaseTimestamps(keptRecords, header.BaseTimestamp, baseTimestampMs);
        }

        var records = _records.WrittenSpan;
        if (header.Compression != CompressionType.None)
        {
            _packed.ResetWrittenCount();
            CompressionCodec.Compress(header.Compression, records, _packed);
            records = _packed.WrittenSpan;
        }

        var attributes = (ushort)header.Attributes | (newHorizon || hasHorizon ? RecordBatchHeader.DeleteHorizonFlag : 0);
        var maxTimestamp = header.IsLogAppendTime ? header.MaxTimestamp : maxTimestampMs;
        kept = WriteBatch(read.Bytes.Span, (short)attributes, baseTimestampMs, maxTimestamp, keptRecords, records);
        return true;
    }

    /// <summary>
    /// A transaction marker: kept as it is while a batch of its transaction was kept in this pass; otherwise it gets a
    /// delete horizon the first time, and goes once the horizon has passed (Kafka's rule for empty markers).
    /// </summary>
    private bool TryKeepMarker(RecordBatch read, CompactionRules rules, out ReadOnlyMemory<byte> kept, out int removed)
    {
        var header = read.Header;
        kept = read.Bytes;
        removed = 0;
        if (_transactionsWithData.Remove(header.ProducerId))
        {
            return true;
        }

        if ((header.Attributes & RecordBatchHeader.DeleteHorizonFlag) != 0)
        {
            removed = rules.NowMs >= header.BaseTimestamp ? header.RecordCount : 0;
            return removed == 0;
        }

        if (header.Compression != CompressionType.None)
        {
            return true; // Kafka writes markers uncompressed; any other is left alone
        }

        _records.ResetWrittenCount();
        _records.Write(read.RecordsSection.Span);
        var horizonMs = rules.NowMs + rules.DeleteRetentionMs;
        RebaseTimestamps(header.RecordCount, header.BaseTimestamp, horizonMs);
        var attributes = (short)((ushort)header.Attributes | RecordBatchHeader.DeleteHorizonFlag);
        kept = WriteBatch(read.Bytes.Span, attributes, horizonMs, header.MaxTimestamp, header.RecordCount, _records.WrittenSpan);
        return true;
    }

    private bool IsAborted(in RecordBatchHeader header)
    {
        if (_abortedByProducer.TryGetValue(header.ProducerId, out var transactions))
        {
            foreach (var transaction in transactions)
            {
                if (transaction.FirstOffset <= header.BaseOffset && header.BaseOffset < transaction.LastOffset)
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool IsProducersLastBatch(in RecordBatchHeader header, CompactionRules rules) =>
        header.ProducerId >= 0 && rules.ProducerLastOffsets.TryGetValue(header.ProducerId, out var lastOffset) && lastOffset == header.LastOffset;

    private static bool Retains(in Record record, in RecordBatchHeader header, bool hasHorizon, CompactionRules rules)
    {
        if (record.Key is not { } key)
        {
            return false; // a compacted topic refuses keyless records; any stored before cannot be compacted
        }

        var latest = rules.Map.Get(key.Span);
        if (latest > header.BaseOffset + record.OffsetDelta)
        {
            return false;
        }

        // A tombstone stays until its batch's delete horizon (set the first time the batch is cleaned) has passed.
        return record.Value is not null || !hasHorizon || rules.NowMs < header.BaseTimestamp;
    }

    private RecordCollection Records(RecordBatch batch)
    {
        if (batch.Header.Compression == CompressionType.None)
        {
            return batch.Records;
        }

        _plain.ResetWrittenCount();
        CompressionCodec.Decompress(batch.Header.Compression, batch.RecordsSection.Span, _plain, DecompressedBytesMax);
        return new RecordCollection(_plain.WrittenMemory, batch.Header.RecordCount);
    }

    /// <summary>
    /// Rewrites the kept records' timestamp deltas against a new base timestamp (the delete horizon). A record is its
    /// length varint, an attributes byte, the timestamp delta varlong and the rest, which is copied as it is.
    /// </summary>
    private void RebaseTimestamps(int recordCount, long oldBaseMs, long newBaseMs)
    {
        var source = _records.WrittenMemory.ToArray();
        _records.ResetWrittenCount();
        var writer = new KafkaWriter(_records);
        var position = 0;
        foreach (var record in new RecordCollection(source, recordCount))
        {
            // The length varint is the part of the record's size its body does not take.
            var lengthBytes = 1;
            while (VarIntSize.OfSigned(record.SizeInBytes - lengthBytes) != lengthBytes)
            {
                lengthBytes++;
            }

            var restStart = lengthBytes + 1 + VarIntSize.OfSignedLong(record.TimestampDelta);
            var rest = source.AsSpan(position + restStart, record.SizeInBytes - restStart);
            var newDelta = oldBaseMs + record.TimestampDelta - newBaseMs;
            writer.WriteVarInt(1 + VarIntSize.OfSignedLong(newDelta) + rest.Length);
            writer.WriteInt8(record.Attributes);
            writer.WriteVarLong(newDelta);
            writer.WriteRawBytes(rest);
            position += record.SizeInBytes;
        }
    }

    private ReadOnlyMemory<byte> WriteBatch(ReadOnlySpan<byte> original, short attributes, long baseTimestampMs, long maxTimestampMs, int recordCount, ReadOnlySpan<byte> records)
    {
        _batch.ResetWrittenCount();
        var span = _batch.GetSpan(RecordBatchHeader.Size + records.Length)[..(RecordBatchHeader.Size + records.Length)];
        original[..RecordBatchHeader.Size].CopyTo(span);
        records.CopyTo(span[RecordBatchHeader.Size..]);
        BinaryPrimitives.WriteInt32BigEndian(span[RecordBatchHeader.BatchLengthOffset..], span.Length - RecordBatchHeader.LogOverhead);
        BinaryPrimitives.WriteInt16BigEndian(span[RecordBatchHeader.AttributesOffset..], attributes);
        BinaryPrimitives.WriteInt64BigEndian(span[RecordBatchHeader.BaseTimestampOffset..], baseTimestampMs);
        BinaryPrimitives.WriteInt64BigEndian(span[RecordBatchHeader.MaxTimestampOffset..], maxTimestampMs);
        BinaryPrimitives.WriteInt32BigEndian(span[RecordBatchHeader.RecordCountOffset..], recordCount);
        BinaryPrimitives.WriteUInt32BigEndian(span[RecordBatchHeader.CrcOffset..], RecordBatchHeader.ComputeCrc(span));
        _batch.Advance(span.Length);
        return _batch.WrittenMemory;
    }

    /// <summary>
    /// A batch with no records that keeps the original's offsets and producer fields (Kafka's writeEmptyHeader): its
    /// timestamps are the original's max timestamp, it is uncompressed.
    /// </summary>
    private ReadOnlyMemory<byte> EmptyBatch(ReadOnlySpan<byte> original, in RecordBatchHeader header)
    {
        var attributes = (short)((ushort)header.Attributes & ~(RecordBatchHeader.CompressionCodecMask | RecordBatchHeader.DeleteHorizonFlag));
        return WriteBatch(original, attributes, header.MaxTimestamp, header.MaxTimestamp, 0, []);
    }
}
