using System.Buffers;
using System.Buffers.Binary;
using Snappier;

namespace Tributary.Protocol.Compression;

/// <summary>
/// Kafka codec 2. Java clients send snappy in xerial's framing (snappy-java's SnappyOutputStream): an 8-byte
/// magic, two big-endian int32s (version, compatible version), then blocks each prefixed by its big-endian
/// int32 compressed length. Other clients may send one raw snappy block; both are accepted on decompress.
/// Compress writes xerial framing because every Kafka client can read it. The block codec is Snappier, a managed
/// port of Google's snappy, so no system library is needed (bench/journal/codecs.md).
/// </summary>
public static class SnappyCodec
{
    /// <summary>0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00: the first bytes of a xerial-framed stream.</summary>
    public static ReadOnlySpan<byte> XerialMagic => [0x82, (byte)'S', (byte)'N', (byte)'A', (byte)'P', (byte)'P', (byte)'Y', 0];

    /// <summary>Magic plus the version and compatible-version int32s.</summary>
    public const int XerialHeaderBytes = 16;

    /// <summary>snappy-java writes version 1, compatible version 1.</summary>
    public const int XerialVersion = 1;

    /// <summary>Uncompressed bytes per xerial block; snappy-java's default block size is 32 KiB.</summary>
    public const int XerialBlockBytes = 32 * 1024;

    public static bool IsXerialFramed(ReadOnlySpan<byte> source) =>
        source.Length >= XerialHeaderBytes && source.StartsWith(XerialMagic);

    public static void Compress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        var header = destination.GetSpan(XerialHeaderBytes);
        XerialMagic.CopyTo(header);
        BinaryPrimitives.WriteInt32BigEndian(header[8..], XerialVersion);
        BinaryPrimitives.WriteInt32BigEndian(header[12..], XerialVersion);
        destination.Advance(XerialHeaderBytes);

        while (!source.IsEmpty)
        {
            var block = source[..Math.Min(source.Length, XerialBlockBytes)];
            var span = destination.GetSpan(4 + MaxCompressedLength(block.Length));
            var length = CompressRaw(block, span[4..]);
            BinaryPrimitives.WriteInt32BigEndian(span, length);
            destination.Advance(4 + length);
            source = source[block.Length..];
        }
    }

    /// <summary>Appends one raw snappy block (no framing) to <paramref name="destination"/>.</summary>
    public static void CompressRaw(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        var span = destination.GetSpan(MaxCompressedLength(source.Length));
        destination.Advance(CompressRaw(source, span));
    }

    /// <summary>Decompresses xerial-framed or raw snappy; returns the number of bytes appended.</summary>
    public static int Decompress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int decompressedBytesMax)
    {
        DecompressionLimit.Check(decompressedBytesMax);
        return IsXerialFramed(source)
            ? DecompressXerial(source, destination, decompressedBytesMax)
            : DecompressRaw(source, destination, decompressedBytesMax);
    }

    private static int DecompressXerial(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int decompressedBytesMax)
    {
        var compatibleVersion = BinaryPrimitives.ReadInt32BigEndian(source[12..]);
        if (compatibleVersion < 1)
        {
            throw new ProtocolException($"xerial snappy stream has compatible version {compatibleVersion}, expected 1");
        }

        var position = XerialHeaderBytes;
        var written = 0;
        while (position < source.Length)
        {
            if (source.Length - position < 4)
            {
                throw new ProtocolException($"xerial snappy block length truncated at byte {position}: {source.Length - position} bytes remain");
            }

            var blockLength = BinaryPrimitives.ReadInt32BigEndian(source[position..]);
            position += 4;
            if (blockLength < 0 || blockLength > source.Length - position)
            {
                throw new ProtocolException($"xerial snappy block at byte {position - 4} claims {blockLength} bytes, {source.Length - position} remain");
            }

            written += DecompressBlock(source.Slice(position, blockLength), destination, decompressedBytesMax - written, decompressedBytesMax);
            position += blockLength;
        }

        return written;
    }

    /// <summary>Decompresses one raw snappy block, refusing before any output when its declared length is over the limit.</summary>
    public static int DecompressRaw(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int decompressedBytesMax)
    {
        DecompressionLimit.Check(decompressedBytesMax);
        return DecompressBlock(source, destination, decompressedBytesMax, decompressedBytesMax);
    }

    /// <summary>One raw block into at most <paramref name="budgetBytes"/>; the error names the whole stream's limit.</summary>
    private static int DecompressBlock(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int budgetBytes, int decompressedBytesMax)
    {
        int length;
        try
        {
            length = Snappy.GetUncompressedLength(source);
        }
        catch (InvalidDataException)
        {
            throw new ProtocolException($"malformed snappy block of {source.Length} bytes: no valid length preamble");
        }

        if (length > budgetBytes)
        {
            throw DecompressionLimit.Exceeded("snappy", decompressedBytesMax);
        }

        int written;
        try
        {
            written = Snappy.Decompress(source, destination.GetSpan(length)[..length]);
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException)
        {
            throw new ProtocolException($"malformed snappy block of {source.Length} bytes: {e.Message}");
        }

        if (written != length)
        {
            throw new ProtocolException($"malformed snappy block of {source.Length} bytes: decoded {written} of the {length} bytes it declares");
        }

        destination.Advance(length);
        return length;
    }

    private static int MaxCompressedLength(int sourceLength) => Snappy.GetMaxCompressedLength(sourceLength);

    private static int CompressRaw(ReadOnlySpan<byte> source, Span<byte> destination) => Snappy.Compress(source, destination);
}
