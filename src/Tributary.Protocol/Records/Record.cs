namespace Tributary.Protocol.Records;

/// <summary>
/// One record of a v2 batch. Key, value and headers are slices of the batch (or of its decompressed records),
/// so reading a record copies nothing; a null key or value is <c>null</c>, distinct from an empty one.
/// </summary>
public readonly struct Record
{
    private readonly ReadOnlyMemory<byte> _headerBytes;

    private Record(sbyte attributes, long timestampDelta, int offsetDelta, ReadOnlyMemory<byte>? key, ReadOnlyMemory<byte>? value, ReadOnlyMemory<byte> headerBytes, int headerCount, int sizeInBytes)
    {
        Attributes = attributes;
        TimestampDelta = timestampDelta;
        OffsetDelta = offsetDelta;
        Key = key;
        Value = value;
        _headerBytes = headerBytes;
        HeaderCount = headerCount;
        SizeInBytes = sizeInBytes;
    }

    /// <summary>Record-level attributes: unused by Kafka so far, always 0 from current clients.</summary>
    public sbyte Attributes { get; }

    /// <summary>Milliseconds after the batch's base timestamp (may be negative).</summary>
    public long TimestampDelta { get; }

    /// <summary>Offset relative to the batch's base offset.</summary>
    public int OffsetDelta { get; }

    public ReadOnlyMemory<byte>? Key { get; }

    public ReadOnlyMemory<byte>? Value { get; }

    public int HeaderCount { get; }

    public RecordHeaderCollection Headers => new(_headerBytes, HeaderCount);

    /// <summary>Encoded size, the leading length varint included.</summary>
    public int SizeInBytes { get; }

    /// <summary>
    /// Reads the record at <paramref name="position"/> and moves past it. <paramref name="span"/> is
    /// <paramref name="memory"/>'s span, passed in so a loop does not fetch it once per record.
    /// </summary>
    internal static Record Read(ReadOnlyMemory<byte> memory, ReadOnlySpan<byte> span, ref int position)
    {
        var start = position;
        var length = RecordVarInt.ReadVarInt(span, ref position, "record length");
        if (length < 0)
        {
            throw new ProtocolException($"record length {length} is negative");
        }

        if (length > span.Length - position)
        {
            throw new ProtocolException($"record length {length} exceeds the {span.Length - position} bytes left");
        }

        var end = position + length;

        // Every read below is bounded by the record's own end, not the batch's.
        var record = span[..end];
        if (position >= end)
        {
            throw new ProtocolException("record is empty: it has no attributes byte");
        }

        var attributes = (sbyte)record[position++];
        var timestampDelta = RecordVarInt.ReadVarLong(record, ref position, "timestamp delta");
        var offsetDelta = RecordVarInt.ReadVarInt(record, ref position, "offset delta");
        var keyStart = RecordVarInt.ReadNullableBytes(record, ref position, "key", "key length", out var keyLength);
        var valueStart = RecordVarInt.ReadNullableBytes(record, ref position, "value", "value length", out var valueLength);
        var headerCount = RecordVarInt.ReadVarInt(record, ref position, "header count");
        if (headerCount < 0)
        {
            throw new ProtocolException($"header count {headerCount} is negative");
        }

        // Each header takes at least two bytes (two length varints), so a huge count fails here, not in a loop.
        if (headerCount > (end - position) / 2)
        {
            throw new ProtocolException($"header count {headerCount} cannot fit in the {end - position} bytes left in the record");
        }

        var headersStart = position;
        for (var i = 0; i < headerCount; i++)
        {
            RecordHeaderCollection.Read(memory, record, ref position);
        }

        if (position != end)
        {
            throw new ProtocolException($"record length says {length} bytes but its fields end {end - position} bytes early");
        }

        // default(...?) and not null: a bare null would convert through byte[] into an empty, non-null memory.
        return new Record(
            attributes,
            timestampDelta,
            offsetDelta,
            keyStart < 0 ? default(ReadOnlyMemory<byte>?) : memory.Slice(keyStart, keyLength),
            valueStart < 0 ? default(ReadOnlyMemory<byte>?) : memory.Slice(valueStart, valueLength),
            memory[headersStart..end],
            headerCount,
            end - start);
    }
}
