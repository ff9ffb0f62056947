using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tributary.Protocol.Records;

/// <summary>
/// CRC32C using the processor's instruction through <see cref="BitOperations.Crc32C(uint, ulong)"/>. Long inputs run
/// as three interleaved streams: one crc32 instruction takes about three cycles to produce its result but a new one
/// can start every cycle, so a single chain of dependent instructions leaves two thirds of the unit idle. The three
/// partial CRCs are joined with <see cref="Shift"/>, the CRC of a value followed by <see cref="StreamBytes"/> zero
/// bytes, read from a table built once.
/// </summary>
public static class Crc32C
{
    /// <summary>Bytes each of the three streams covers per round.</summary>
    private const int StreamBytes = 1024;

    // Shift(x) is linear in x, so it is the XOR of the shifts of x's four bytes: four tables of 256 entries.
    private static readonly uint[] ShiftTable = BuildShiftTable();

    public static uint Compute(ReadOnlySpan<byte> data) => ~Append(uint.MaxValue, data);

    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        ref var start = ref MemoryMarshal.GetReference(data);
        var offset = 0;
        while (data.Length - offset >= 3 * StreamBytes)
        {
            uint a = crc, b = 0, c = 0;
            for (var end = offset + StreamBytes; offset < end; offset += 8)
            {
                a = BitOperations.Crc32C(a, ReadUInt64(ref start, offset));
                b = BitOperations.Crc32C(b, ReadUInt64(ref start, offset + StreamBytes));
                c = BitOperations.Crc32C(c, ReadUInt64(ref start, offset + (2 * StreamBytes)));
            }

            // crc(a's bytes, b's bytes, c's bytes) = shift(shift(a) ^ b) ^ c: the CRC is linear, and without the
            // initial and final inversions the CRC of zero bytes from state s is the shift of s.
            crc = Shift(Shift(a) ^ b) ^ c;
            offset += 2 * StreamBytes;
        }

        return AppendSerial(crc, data[offset..]);
    }

    private static uint AppendSerial(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        if (data.Length >= 4)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt32LittleEndian(data));
            data = data[4..];
        }

        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return crc;
    }

    /// <summary>Eight bytes at <paramref name="offset"/> as a little-endian value; the caller has checked the bounds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReadUInt64(ref byte start, int offset)
    {
        var value = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, offset));
        return BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Shift(uint crc) =>
        ShiftTable[(int)(crc & 0xff)] ^ ShiftTable[256 + (int)((crc >> 8) & 0xff)]
        ^ ShiftTable[512 + (int)((crc >> 16) & 0xff)] ^ ShiftTable[768 + (int)(crc >> 24)];

    private static uint[] BuildShiftTable()
    {
        var table = new uint[4 * 256];
        Span<byte> zeros = stackalloc byte[StreamBytes];
        zeros.Clear();
        for (var i = 0; i < 4; i++)
        {
            for (var b = 0; b < 256; b++)
            {
                table[(i * 256) + b] = AppendSerial((uint)b << (8 * i), zeros);
            }
        }

        return table;
    }
}
