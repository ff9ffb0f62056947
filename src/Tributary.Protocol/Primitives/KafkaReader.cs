using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace Tributary.Protocol;

/// <summary>
/// Reads Kafka's primitive types from one contiguous frame. Every length is checked against the bytes
/// that remain before anything is allocated, so a hostile length can never size an allocation.
/// <c>records</c> and zero-copy <c>bytes</c> come back as slices of the frame, not copies.
/// </summary>
public ref struct KafkaReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ReadOnlyMemory<byte> _memory;
    private readonly ReadOnlySpan<byte> _span;
    private int _position;

    public KafkaReader(ReadOnlyMemory<byte> memory)
    {
        _memory = memory;
        _span = memory.Span;
        _position = 0;
    }

    public readonly int Position => _position;

    public readonly int Remaining => _span.Length - _position;

    public readonly bool End => _position >= _span.Length;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ReadOnlySpan<byte> Take(int count)
    {
        if ((uint)count > (uint)(_span.Length - _position))
        {
            throw Truncated(count);
        }

        var slice = _span.Slice(_position, count);
        _position += count;
        return slice;
    }

    private readonly ProtocolException Truncated(int count) =>
        new($"truncated: needed {count} bytes at position {_position}, {_span.Length - _position} remain");

    public bool ReadBool() => Take(1)[0] != 0;

    public sbyte ReadInt8() => (sbyte)Take(1)[0];

    public short ReadInt16() => BinaryPrimitives.ReadInt16BigEndian(Take(2));

    public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));

    public int ReadInt32() => BinaryPrimitives.ReadInt32BigEndian(Take(4));

    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

    public long ReadInt64() => BinaryPrimitives.ReadInt64BigEndian(Take(8));

    public double ReadFloat64() => BinaryPrimitives.ReadDoubleBigEndian(Take(8));

    public Guid ReadUuid() => new(Take(16), bigEndian: true);

    public uint ReadUnsignedVarInt()
    {
        uint value = 0;
        for (var shift = 0; shift < 35; shift += 7)
        {
            var b = Take(1)[0];
            if (shift == 28 && (b & 0xF0) != 0)
            {
                throw new ProtocolException($"malformed unsigned varint at position {_position - 1}: more than 32 bits");
            }

            value |= (uint)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new ProtocolException($"malformed unsigned varint ending at position {_position}");
    }

    public int ReadVarInt()
    {
        var raw = ReadUnsignedVarInt();
        return (int)(raw >> 1) ^ -(int)(raw & 1);
    }

    public long ReadVarLong()
    {
        ulong value = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            var b = Take(1)[0];
            if (shift == 63 && (b & 0xFE) != 0)
            {
                throw new ProtocolException($"malformed varlong at position {_position - 1}: more than 64 bits");
            }

            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return (long)(value >> 1) ^ -(long)(value & 1);
            }
        }

        throw new ProtocolException($"malformed varlong ending at position {_position}");
    }

    /// <summary>Length of a string, bytes or array: -1 means null.</summary>
    private int ReadLength(bool compact, bool wide)
    {
        if (compact)
        {
            var raw = ReadUnsignedVarInt();
            if (raw > int.MaxValue)
            {
                throw new ProtocolException($"compact length {raw} out of range at position {_position}");
            }

            return (int)raw - 1;
        }

        int length = wide ? ReadInt32() : ReadInt16();
        if (length < -1)
        {
            throw new ProtocolException($"negative length {length} at position {_position}");
        }

        return length;
    }

    public string? ReadNullableString(bool compact)
    {
        var length = ReadLength(compact, wide: false);
        if (length < 0)
        {
            return null;
        }

        var start = _position;
        var bytes = Take(length);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new ProtocolException($"invalid UTF-8 in string at position {start}");
        }
    }

    public string ReadString(bool compact) =>
        ReadNullableString(compact) ?? throw new ProtocolException($"null string in a non-nullable field at position {_position}");

    /// <summary>A byte field, copied out of the frame (frames are pooled and reused).</summary>
    public byte[]? ReadNullableBytes(bool compact)
    {
        var length = ReadLength(compact, wide: true);
        return length < 0 ? null : Take(length).ToArray();
    }

    public byte[] ReadBytes(bool compact) =>
        ReadNullableBytes(compact) ?? throw new ProtocolException($"null bytes in a non-nullable field at position {_position}");

    /// <summary>Record data as a slice of the frame: never decoded, never copied.</summary>
    public ReadOnlyMemory<byte>? ReadRecords(bool compact)
    {
        var length = ReadLength(compact, wide: true);
        if (length < 0)
        {
            return null;
        }

        var start = _position;
        Take(length);
        return _memory.Slice(start, length);
    }

    public ReadOnlyMemory<byte>? ReadRecords(bool compact, bool nullable)
    {
        var records = ReadRecords(compact);
        if (!records.HasValue && !nullable)
        {
            throw new ProtocolException($"null records in a non-nullable field at position {_position}");
        }

        return records;
    }

    /// <summary>Size of one tagged field, checked against the bytes that remain.</summary>
    public int ReadTaggedFieldSize()
    {
        var size = ReadUnsignedVarInt();
        if (size > (uint)Remaining)
        {
            throw new ProtocolException($"tagged field of {size} bytes exceeds the {Remaining} bytes that remain at position {_position}");
        }

        return (int)size;
    }

    /// <summary>Checks that a known tagged field used exactly the size its header declared.</summary>
    public readonly void EndTaggedField(uint tag, int start, int size)
    {
        if (_position - start != size)
        {
            throw new ProtocolException($"tagged field {tag} declared {size} bytes but its value took {_position - start}");
        }
    }

    public ReadOnlyMemory<byte> ReadRawBytes(int count)
    {
        var start = _position;
        Take(count);
        return _memory.Slice(start, count);
    }

    /// <summary>
    /// Array count, -1 for null. The count is checked against the remaining bytes (every element takes
    /// at least one byte), so a count in the billions fails here instead of sizing a list.
    /// </summary>
    public int ReadArrayLength(bool compact)
    {
        var length = ReadLength(compact, wide: true);
        if (length > Remaining)
        {
            throw new ProtocolException($"array count {length} exceeds the {Remaining} bytes that remain at position {_position}");
        }

        return length;
    }

    /// <summary>Initial capacity for a list of <paramref name="count"/> elements: never more than the bytes left.</summary>
    public readonly int SafeCapacity(int count) => Math.Min(count, Math.Max(Remaining, 0));

    public void Skip(int count) => Take(count);
}
