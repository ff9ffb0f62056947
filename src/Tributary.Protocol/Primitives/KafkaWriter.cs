using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Tributary.Protocol;

/// <summary>
/// Writes Kafka's primitive types into an <see cref="IBufferWriter{T}"/> (a pipe, or a pooled buffer).
/// </summary>
public ref struct KafkaWriter
{
    private readonly IBufferWriter<byte> _output;
    private long _written;

    public KafkaWriter(IBufferWriter<byte> output)
    {
        _output = output;
        _written = 0;
    }

    public readonly long Written => _written;

    private Span<byte> Reserve(int count) => _output.GetSpan(count);

    private void Commit(int count)
    {
        _output.Advance(count);
        _written += count;
    }

    public void WriteBool(bool value) => WriteInt8(value ? (sbyte)1 : (sbyte)0);

    public void WriteInt8(sbyte value)
    {
        Reserve(1)[0] = (byte)value;
        Commit(1);
    }

    public void WriteInt16(short value)
    {
        BinaryPrimitives.WriteInt16BigEndian(Reserve(2), value);
        Commit(2);
    }

    public void WriteUInt16(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(Reserve(2), value);
        Commit(2);
    }

    public void WriteInt32(int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(Reserve(4), value);
        Commit(4);
    }

    public void WriteUInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(Reserve(4), value);
        Commit(4);
    }

    public void WriteInt64(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(Reserve(8), value);
        Commit(8);
    }

    public void WriteFloat64(double value)
    {
        BinaryPrimitives.WriteDoubleBigEndian(Reserve(8), value);
        Commit(8);
    }

    public void WriteUuid(Guid value)
    {
        value.TryWriteBytes(Reserve(16), bigEndian: true, out _);
        Commit(16);
    }

    public void WriteUnsignedVarInt(uint value)
    {
        var span = Reserve(5);
        var i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[i++] = (byte)value;
        Commit(i);
    }

    public void WriteVarInt(int value) => WriteUnsignedVarInt((uint)((value << 1) ^ (value >> 31)));

    public void WriteVarLong(long value)
    {
        var zigzag = (ulong)((value << 1) ^ (value >> 63));
        var span = Reserve(10);
        var i = 0;
        while (zigzag >= 0x80)
        {
            span[i++] = (byte)(zigzag | 0x80);
            zigzag >>= 7;
        }

        span[i++] = (byte)zigzag;
        Commit(i);
    }

    private void WriteLength(int length, bool compact, bool wide)
    {
        if (compact)
        {
            WriteUnsignedVarInt((uint)(length + 1));
        }
        else if (wide)
        {
            WriteInt32(length);
        }
        else
        {
            WriteInt16(checked((short)length));
        }
    }

    public void WriteNullableString(string? value, bool compact)
    {
        if (value is null)
        {
            WriteLength(-1, compact, wide: false);
            return;
        }

        var byteCount = Encoding.UTF8.GetByteCount(value);
        if (!compact && byteCount > short.MaxValue)
        {
            throw new ProtocolException($"string of {byteCount} bytes is longer than a non-compact string allows");
        }

        WriteLength(byteCount, compact, wide: false);
        WriteRaw(value, byteCount);
    }

    private void WriteRaw(string value, int byteCount)
    {
        var span = Reserve(byteCount);
        Encoding.UTF8.GetBytes(value, span);
        Commit(byteCount);
    }

    public void WriteString(string value, bool compact) => WriteNullableString(value, compact);

    public void WriteNullableBytes(ReadOnlySpan<byte> value, bool isNull, bool compact)
    {
        if (isNull)
        {
            WriteLength(-1, compact, wide: true);
            return;
        }

        WriteLength(value.Length, compact, wide: true);
        WriteRawBytes(value);
    }

    public void WriteNullableBytes(byte[]? value, bool compact) => WriteNullableBytes(value, value is null, compact);

    public void WriteRecords(ReadOnlyMemory<byte>? value, bool compact)
    {
        if (value is { } records && MemoryMarshal.TryGetMemoryManager<byte, DeferredBytes>(records, out var deferred, out var start, out var length))
        {
            WriteLength(length, compact, wide: true);
            WriteDeferred(deferred, start, length);
            return;
        }

        WriteNullableBytes(value.HasValue ? value.Value.Span : default, !value.HasValue, compact);
    }

    /// <summary>
    /// Hands the file range of <paramref name="source"/> to an output that sends from files (<see cref="IFileRangeWriter"/>);
    /// otherwise has <paramref name="source"/> copy itself into the output's own memory, a piece at a time: whatever the
    /// output has left in its current buffer (at least <see cref="DeferredPieceBytesMin"/> bytes), so no copy is made in between.
    /// </summary>
    private void WriteDeferred(DeferredBytes source, int start, int length)
    {
        if (length > 0 && _output is IFileRangeWriter files && source.TryGetFile(out var file, out var position)
            && files.TryWriteFileRange(file, position + start, length))
        {
            _written += length;
            return;
        }

        var done = 0;
        while (done < length)
        {
            var span = _output.GetSpan(Math.Min(length - done, DeferredPieceBytesMin));
            var n = Math.Min(span.Length, length - done);
            source.CopyTo(start + done, span[..n]);
            Commit(n);
            done += n;
        }
    }

    /// <summary>Smallest piece, in bytes, a deferred copy asks the output for (the output may give more).</summary>
    private const int DeferredPieceBytesMin = 4096;

    public void WriteArrayLength(int count, bool compact) => WriteLength(count, compact, wide: true);

    public void WriteRawBytes(ReadOnlySpan<byte> value)
    {
        // Large values are written in pieces so no single GetSpan asks for more than the writer's segment.
        while (!value.IsEmpty)
        {
            var span = _output.GetSpan(Math.Min(value.Length, 64 * 1024));
            var n = Math.Min(span.Length, value.Length);
            value[..n].CopyTo(span);
            Commit(n);
            value = value[n..];
        }
    }
}
