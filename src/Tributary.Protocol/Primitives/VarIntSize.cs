namespace Tributary.Protocol;

/// <summary>Encoded sizes of Kafka's variable-length integers, to size tagged fields before writing them.</summary>
public static class VarIntSize
{
    public static int OfUnsigned(uint value) => value < 1u << 7 ? 1 : value < 1u << 14 ? 2 : value < 1u << 21 ? 3 : value < 1u << 28 ? 4 : 5;

    public static int OfSigned(int value) => OfUnsigned((uint)((value << 1) ^ (value >> 31)));

    public static int OfSignedLong(long value)
    {
        var zigzag = (ulong)((value << 1) ^ (value >> 63));
        var size = 1;
        while (zigzag >= 0x80)
        {
            zigzag >>= 7;
            size++;
        }

        return size;
    }
}
