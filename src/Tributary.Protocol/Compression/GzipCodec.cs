using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;

namespace Tributary.Protocol.Compression;

/// <summary>Kafka codec 1: a gzip stream (RFC 1952), through System.IO.Compression.</summary>
public static class GzipCodec
{
    private const int ChunkBytes = 64 * 1024;

    /// <summary>The gzip trailer: CRC32 then ISIZE (input length mod 2^32), both little-endian.</summary>
    private const int TrailerBytes = 8;

    /// <summary>
    /// A complete gzip member holding nothing: 10-byte header, an empty final stored deflate block, CRC32 0,
    /// ISIZE 0. GZipStream writes no bytes at all for empty input, which no gzip reader accepts.
    /// </summary>
    private static ReadOnlySpan<byte> EmptyMember => [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];

    public static void Compress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, CompressionLevel level = CompressionLevel.Optimal)
    {
        if (source.IsEmpty)
        {
            EmptyMember.CopyTo(destination.GetSpan(EmptyMember.Length));
            destination.Advance(EmptyMember.Length);
            return;
        }

        using var gzip = new GZipStream(new BufferWriterStream(destination), level, leaveOpen: false);
        gzip.Write(source);
    }

    /// <summary>Appends the decompressed bytes to <paramref name="destination"/> and returns how many were written.</summary>
    public static unsafe int Decompress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int decompressedBytesMax)
    {
        DecompressionLimit.Check(decompressedBytesMax);
        if (source.Length < 18)
        {
            throw new ProtocolException($"gzip data of {source.Length} bytes is shorter than a gzip header and trailer");
        }

        fixed (byte* pointer = source)
        {
            using var input = new UnmanagedMemoryStream(pointer, source.Length);
            using var gzip = new GZipStream(input, CompressionMode.Decompress);
            long written = 0;
            try
            {
                while (true)
                {
                    var span = destination.GetSpan(ChunkBytes);
                    var read = gzip.Read(span[..DecompressionLimit.NextChunk(span.Length, written, decompressedBytesMax)]);
                    if (read == 0)
                    {
                        break;
                    }

                    destination.Advance(read);
                    written += read;
                    if (written > decompressedBytesMax)
                    {
                        throw DecompressionLimit.Exceeded("gzip", decompressedBytesMax);
                    }
                }
            }
            catch (InvalidDataException e)
            {
                throw new ProtocolException($"malformed gzip data: {e.Message}");
            }

            // GZipStream ends quietly when the input stops early, before zlib has checked the trailer.
            // Kafka clients write a single gzip member, so its trailer is the last 8 bytes of the data.
            var trailerLength = BinaryPrimitives.ReadUInt32LittleEndian(source[^(TrailerBytes / 2)..]);
            if (trailerLength != (uint)written)
            {
                throw new ProtocolException($"gzip data truncated or corrupt: its trailer says {trailerLength} bytes, it decompressed to {written}");
            }

            return (int)written;
        }
    }
}
