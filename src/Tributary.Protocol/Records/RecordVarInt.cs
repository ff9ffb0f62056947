namespace Tributary.Protocol.Records;

/// <summary>
/// Zigzag varints inside one record. The span ends where the record ends, so a varint can never read into
/// the next record, and each failure names the field it was reading.
/// </summary>
internal static class RecordVarInt
{
    public static int ReadVarInt(ReadOnlySpan<byte> span, ref int position, string field)
    {
        uint raw = 0;
        for (var shift = 0; shift < 35; shift += 7)
        {
            if (position >= span.Length)
            {
                throw new ProtocolException($"{field} varint runs past the end of the record at byte {position}");
            }

            var b = span[position++];
            if (shift == 28 && (b & 0xF0) != 0)
            {
                throw new ProtocolException($"{field} varint is longer than 32 bits at byte {position - 1}");
            }

            raw |= (uint)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return (int)(raw >> 1) ^ -(int)(raw & 1);
            }
        }

        throw new ProtocolException($"{field} varint is longer than 32 bits at byte {position - 1}");
    }

    public static long ReadVarLong(ReadOnlySpan<byte> span, ref int position, string field)
    {
        ulong raw = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            if (position >= span.Length)
            {
                throw new ProtocolException($"{field} varlong runs past the end of the record at byte {position}");
            }

            var b = span[position++];
            if (shift == 63 && (b & 0xFE) != 0)
            {
                throw new ProtocolException($"{field} varlong is longer than 64 bits at byte {position - 1}");
            }

            raw |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return (long)(raw >> 1) ^ -(long)(raw & 1);
            }
        }

        throw new ProtocolException($"{field} varlong is longer than 64 bits at byte {position - 1}");
    }

    /// <summary>
    /// A varint length followed by that many bytes; -1 is null. Returns the start, or -1 for null. Both names
    /// are literals so that the success path builds no strings.
    /// </summary>
    public static int ReadNullableBytes(ReadOnlySpan<byte> span, ref int position, string field, string lengthField, out int length)
    {
        length = ReadVarInt(span, ref position, lengthField);
        if (length == -1)
        {
            return -1;
        }

        if (length < 0)
        {
            throw new ProtocolException($"{field} length {length} is negative (only -1, null, is allowed)");
        }

        if (length > span.Length - position)
        {
            throw new ProtocolException($"{field} length {length} exceeds the {span.Length - position} bytes left in the record");
        }

        var start = position;
        position += length;
        return start;
    }
}
