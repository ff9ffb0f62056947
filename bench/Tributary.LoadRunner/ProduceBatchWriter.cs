using System.Buffers.Binary;
using Tributary.Protocol.Records;

namespace Tributary.LoadRunner;

/// <summary>
/// Writes one uncompressed v2 record batch of fixed-size records straight into a reused buffer, without a
/// per-record allocation (unlike <see cref="RecordBatchBuilder"/>, which is for tools and tests): on two shared
/// cores, every cycle the load generator spends is a cycle the broker does not get.
/// Each record has a null key, no headers, and a value whose first 8 bytes are the record's send time on
/// <see cref="MonotonicClock"/> (big-endian nanoseconds), for end-to-end latency; the rest is filler.
/// </summary>
internal sealed class ProduceBatchWriter
{
    /// <summary>Upper bound on one record's framing around its value: length, attributes, deltas, key and header counts.</summary>
    private const int RecordOverheadBytesMax = 5 + 1 + 10 + 5 + 1 + 5 + 1;

    private readonly byte[] _buffer;
    private readonly byte[] _filler;
    private readonly int _batchBytes;
    private readonly int _recordBytes;
    private int _length;
    private long _baseTimestampMs;
    private long _maxTimestampMs;

    public ProduceBatchWriter(int batchBytes, int recordBytes)
    {
        _batchBytes = batchBytes;
        _recordBytes = recordBytes;
        _buffer = new byte[batchBytes + recordBytes + RecordOverheadBytesMax];
        _filler = new byte[recordBytes];
        _filler.AsSpan().Fill((byte)'x');
        Reset(0);
    }

    public int Partition { get; private set; }

    public int Count { get; private set; }

    /// <summary>Monotonic time of the first record, for linger.ms.</summary>
    public long FirstRecordNanos { get; private set; }

    public int Length => _length;

    /// <summary>True when one more record would take the batch past batch.size (the first record always fits).</summary>
    public bool IsFull => Count > 0 && _length + _recordBytes + RecordOverheadBytesMax > _batchBytes;

    /// <summary>Records still to add before <see cref="IsFull"/> (an estimate at the largest record size, at least 1).</summary>
    public int RecordsUntilFull => Math.Max(1, ((_batchBytes - _length) / (_recordBytes + RecordOverheadBytesMax)) + (Count == 0 ? 1 : 0));

    public void Reset(int partition)
    {
        Partition = partition;
        Count = 0;
        _length = RecordBatchHeader.Size;
    }

    /// <param name="timestampMs">The record's Kafka timestamp (wall clock, milliseconds).</param>
    /// <param name="sendNanos">Monotonic send time written into the value.</param>
    public void Add(long timestampMs, long sendNanos)
    {
        if (Count == 0)
        {
            _baseTimestampMs = timestampMs;
            _maxTimestampMs = timestampMs;
            FirstRecordNanos = sendNanos;
        }

        _maxTimestampMs = Math.Max(_maxTimestampMs, timestampMs);
        var timestampDelta = timestampMs - _baseTimestampMs;
        var offsetDelta = Count;
        var bodyBytes = 1 + ZigZagSize(timestampDelta) + ZigZagSize(offsetDelta) + ZigZagSize(-1)
            + ZigZagSize(_recordBytes) + _recordBytes + ZigZagSize(0);
        var span = _buffer.AsSpan(_length);
        var at = WriteZigZag(span, bodyBytes);
        span[at++] = 0; // record attributes: unused in v2
        at += WriteZigZag(span[at..], timestampDelta);
        at += WriteZigZag(span[at..], offsetDelta);
        at += WriteZigZag(span[at..], -1); // null key
        at += WriteZigZag(span[at..], _recordBytes);
        BinaryPrimitives.WriteInt64BigEndian(span[at..], sendNanos);
        _filler.AsSpan(8).CopyTo(span[(at + 8)..]);
        at += _recordBytes;
        at += WriteZigZag(span[at..], 0); // no headers
        _length += at;
        Count++;
    }

    /// <summary>Fills in the header (lengths, counts, timestamps, CRC) and returns the whole batch.</summary>
    public ReadOnlyMemory<byte> Seal()
    {
        var span = _buffer.AsSpan(0, _length);
        BinaryPrimitives.WriteInt64BigEndian(span[RecordBatchHeader.BaseOffsetOffset..], 0);
        BinaryPrimitives.WriteInt32BigEndian(span[RecordBatchHeader.BatchLengthOffset..], _length - RecordBatchHeader.LogOverhead);
        BinaryPrimitives.WriteInt32BigEndian(span[RecordBatchHeader.PartitionLeaderEpochOffset..], -1);
        span[RecordBatchHeader.MagicOffset] = 2;
        BinaryPrimitives.WriteInt16BigEndian(span[RecordBatchHeader.AttributesOffset..], 0);
        BinaryPrimitives.WriteInt32BigEndian(span[RecordBatchHeader.LastOffsetDeltaOffset..], Count - 1);
        BinaryPrimitives.WriteInt64BigEndian(span[RecordBatchHeader.BaseTimestampOffset..], _baseTimestampMs);
        BinaryPrimitives.WriteInt64BigEndian(span[RecordBatchHeader.MaxTimestampOffset..], _maxTimestampMs);
        BinaryPrimitives.WriteInt64BigEndian(span[RecordBatchHeader.ProducerIdOffset..], -1);
        BinaryPrimitives.WriteInt16BigEndian(span[RecordBatchHeader.ProducerEpochOffset..], -1);
        BinaryPrimitives.WriteInt32BigEndian(span[RecordBatchHeader.BaseSequenceOffset..], -1);
        BinaryPrimitives.WriteInt32BigEndian(span[RecordBatchHeader.RecordCountOffset..], Count);
        // The CRC covers attributes to the end, so it goes in last.
        BinaryPrimitives.WriteUInt32BigEndian(span[RecordBatchHeader.CrcOffset..], RecordBatchHeader.ComputeCrc(span));
        return _buffer.AsMemory(0, _length);
    }

    private static int ZigZagSize(long value)
    {
        var v = (ulong)((value << 1) ^ (value >> 63));
        var size = 1;
        while (v >= 0x80)
        {
            v >>= 7;
            size++;
        }

        return size;
    }

    private static int WriteZigZag(Span<byte> destination, long value)
    {
        var v = (ulong)((value << 1) ^ (value >> 63));
        var i = 0;
        while (v >= 0x80)
        {
            destination[i++] = (byte)(v | 0x80);
            v >>= 7;
        }

        destination[i++] = (byte)v;
        return i;
    }
}
