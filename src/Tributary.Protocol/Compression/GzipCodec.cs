using System.Buffers;
using System.IO.Compression;

namespace Tributary.Protocol.Compression;

/// <summary>Kafka codec 1: a gzip stream (RFC 1952), through System.IO.Compression.</summary>
public static class GzipCodec
{
    private const int ChunkBytes = 64 * 1024;

    public static void Compress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, CompressionLevel level = CompressionLevel.Optimal)
    {
        using var gzip = new GZipStream(new BufferWriterStream(destination), level, leaveOpen: false);
        gzip.Write(source);
    }

    /// <summary>Appends the decompressed bytes to <paramref name="destination"/> and returns how many were written.</summary>
    public static unsafe int Decompress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int decompressedBytesMax)
    {
        DecompressionLimit.Check(decompressedBytesMax);
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

            return (int)written;
        }
    }
}
