using System.Buffers;

namespace Tributary.Protocol.Compression;

/// <summary>
/// Kafka codec 3. Magic 2 batches carry a standard LZ4 frame (the LZ4F format). Compress writes 64 KiB
/// independent blocks without content size, as Kafka's Java producer does, because the Java consumer
/// decodes each block on its own and cannot read linked blocks.
/// </summary>
public static class Lz4Codec
{
    private const int ChunkBytes = 64 * 1024;

    public static unsafe void Compress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        var preferences = new Lz4Native.Preferences
        {
            BlockSizeId = Lz4Native.BlockSizeMax64KB,
            BlockMode = Lz4Native.BlockIndependent,
        };
        var bound = checked((int)Lz4Native.CompressFrameBound((nuint)source.Length, &preferences));
        var span = destination.GetSpan(bound);
        fixed (byte* input = source)
        fixed (byte* output = span)
        {
            var result = Lz4Native.CompressFrame(output, (nuint)span.Length, input, (nuint)source.Length, &preferences);
            if (Lz4Native.IsError(result) != 0)
            {
                throw new InvalidOperationException($"LZ4F_compressFrame failed: {Lz4Native.ErrorName(result)}");
            }

            destination.Advance((int)result);
        }
    }

    /// <summary>Decodes one or more LZ4 frames; returns the number of bytes appended.</summary>
    public static unsafe int Decompress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int decompressedBytesMax)
    {
        DecompressionLimit.Check(decompressedBytesMax);
        nint context;
        var created = Lz4Native.CreateDecompressionContext(&context, Lz4Native.FrameApiVersion);
        if (Lz4Native.IsError(created) != 0)
        {
            throw new InvalidOperationException($"LZ4F_createDecompressionContext failed: {Lz4Native.ErrorName(created)}");
        }

        try
        {
            fixed (byte* input = source)
            {
                var position = 0;
                long written = 0;
                nuint hint = 1;
                while (true)
                {
                    var span = destination.GetSpan(ChunkBytes);
                    var offered = DecompressionLimit.NextChunk(span.Length, written, decompressedBytesMax);
                    var produced = (nuint)offered;
                    var consumed = (nuint)(source.Length - position);
                    fixed (byte* output = span)
                    {
                        hint = Lz4Native.Decompress(context, output, &produced, input + position, &consumed, null);
                    }

                    if (Lz4Native.IsError(hint) != 0)
                    {
                        throw new ProtocolException($"malformed lz4 frame near byte {position}: {Lz4Native.ErrorName(hint)}");
                    }

                    position += (int)consumed;
                    destination.Advance((int)produced);
                    written += (long)produced;
                    if (written > decompressedBytesMax)
                    {
                        throw DecompressionLimit.Exceeded("lz4", decompressedBytesMax);
                    }

                    // hint 0: a frame ended and all its bytes were flushed; another frame may follow.
                    if (hint == 0 && position == source.Length)
                    {
                        return (int)written;
                    }

                    if (consumed == 0 && produced == 0)
                    {
                        // No progress with input left means the decoder is stuck; with none left the frame is cut short.
                        throw new ProtocolException(position == source.Length
                            ? $"lz4 frame truncated after {source.Length} bytes"
                            : $"lz4 decoder made no progress at byte {position}");
                    }
                }
            }
        }
        finally
        {
            Lz4Native.FreeDecompressionContext(context);
        }
    }
}
