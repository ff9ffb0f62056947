using System.Buffers;
using Tributary.Protocol.Records;

namespace Tributary.Protocol.Compression;

/// <summary>Chooses the codec for a batch's <see cref="CompressionType"/>.</summary>
public static class CompressionCodec
{
    public static void Compress(CompressionType type, ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        switch (type)
        {
            case CompressionType.None:
                source.CopyTo(destination.GetSpan(source.Length));
                destination.Advance(source.Length);
                break;
            case CompressionType.Gzip:
                GzipCodec.Compress(source, destination);
                break;
            case CompressionType.Snappy:
                SnappyCodec.Compress(source, destination);
                break;
            case CompressionType.Lz4:
                Lz4Codec.Compress(source, destination);
                break;
            case CompressionType.Zstd:
                ZstdCodec.Compress(source, destination);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "not a Kafka compression codec");
        }
    }

    /// <summary>
    /// Appends the decompressed form of <paramref name="source"/> and returns its length. Throws
    /// <see cref="ProtocolException"/> when the data is malformed, the codec id is unknown, or the output
    /// would exceed <paramref name="decompressedBytesMax"/>.
    /// </summary>
    public static int Decompress(CompressionType type, ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int decompressedBytesMax)
    {
        switch (type)
        {
            case CompressionType.None:
                if (source.Length > decompressedBytesMax)
                {
                    throw DecompressionLimit.Exceeded("uncompressed", decompressedBytesMax);
                }

                source.CopyTo(destination.GetSpan(source.Length));
                destination.Advance(source.Length);
                return source.Length;
            case CompressionType.Gzip:
                return GzipCodec.Decompress(source, destination, decompressedBytesMax);
            case CompressionType.Snappy:
                return SnappyCodec.Decompress(source, destination, decompressedBytesMax);
            case CompressionType.Lz4:
                return Lz4Codec.Decompress(source, destination, decompressedBytesMax);
            case CompressionType.Zstd:
                return ZstdCodec.Decompress(source, destination, decompressedBytesMax);
            default:
                throw new ProtocolException($"unknown compression codec {(int)type}: Kafka defines 0 to 4");
        }
    }
}
