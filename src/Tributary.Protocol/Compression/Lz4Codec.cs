using System.Buffers;
using K4os.Compression.LZ4;
using K4os.Compression.LZ4.Streams;

namespace Tributary.Protocol.Compression;

/// <summary>
/// Kafka codec 3. Magic 2 batches carry a standard LZ4 frame (the LZ4F format). Compress writes 64 KiB
/// independent blocks without content size, as Kafka's Java producer does, because the Java consumer
/// decodes each block on its own and cannot read linked blocks. The codec is K4os.Compression.LZ4, a managed
/// port of liblz4, so no system library is needed (bench/journal/codecs.md).
/// </summary>
public static class Lz4Codec
{
    private const int ChunkBytes = 64 * 1024;

    private static readonly LZ4EncoderSettings Settings = new()
    {
        BlockSize = 64 * 1024,
        ChainBlocks = false,
        CompressionLevel = LZ4Level.L00_FAST,
    };

    public static void Compress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination) =>
        LZ4Frame.Encode(source, destination, Settings);

    /// <summary>Decodes one or more LZ4 frames; returns the number of bytes appended.</summary>
    public static unsafe int Decompress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int decompressedBytesMax)
    {
        DecompressionLimit.Check(decompressedBytesMax);
        if (source.IsEmpty)
        {
            throw new ProtocolException("lz4 data is empty: not even a frame header");
        }

        fixed (byte* pointer = source)
        {
            using var input = new UnmanagedMemoryStream(pointer, source.Length);
            long written = 0;
            try
            {
                // The reader stops at the end of a frame; a producer may send several frames back to back.
                while (input.Position < input.Length)
                {
                    var frameStart = input.Position;
                    using var reader = LZ4Frame.Decode(input, extraMemory: 0, leaveOpen: true);
                    while (true)
                    {
                        var span = destination.GetSpan(ChunkBytes);
                        var read = reader.ReadManyBytes(span[..DecompressionLimit.NextChunk(span.Length, written, decompressedBytesMax)]);
                        if (read == 0)
                        {
                            break;
                        }

                        destination.Advance(read);
                        written += read;
                        if (written > decompressedBytesMax)
                        {
                            throw DecompressionLimit.Exceeded("lz4", decompressedBytesMax);
                        }
                    }

                    if (input.Position == frameStart)
                    {
                        throw new ProtocolException($"lz4 decoder made no progress at byte {frameStart}");
                    }
                }
            }
            catch (Exception e) when (IsMalformedInput(e))
            {
                throw new ProtocolException($"malformed lz4 frame near byte {input.Position}: {e.Message}");
            }

            return (int)written;
        }
    }

    /// <summary>What K4os' frame reader throws on corrupt or cut input (an invalid block decodes to a negative length).</summary>
    private static bool IsMalformedInput(Exception e) =>
        e is InvalidDataException or EndOfStreamException or InvalidOperationException or NotImplementedException
            or NotSupportedException or ArgumentException or IndexOutOfRangeException;
}
