using System.Buffers;
using System.Numerics;

namespace Tributary.Protocol.Compression;

/// <summary>
/// Kafka codec 4. Decompression streams because producers that compress as a stream (the Java client)
/// leave the frame's content size out, so the output size is only known at the end.
/// </summary>
public static class ZstdCodec
{
    /// <summary>Kafka's default zstd level (compression.zstd.level).</summary>
    public const int DefaultLevel = 3;

    private const int ChunkBytes = 64 * 1024;

    /// <summary>zstd's own default cap on a decoder's window (ZSTD_WINDOWLOG_LIMIT_DEFAULT): 128 MiB.</summary>
    private const int WindowLogLimit = 27;

    /// <summary>
    /// Streaming compressors that do not know the input size declare the window of their level regardless of
    /// how small the data is (level 3: 2 MiB, level 19: 8 MiB), so windows up to 8 MiB are always accepted.
    /// </summary>
    private const int WindowLogFloor = 23;

    public static unsafe void Compress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int level = DefaultLevel)
    {
        var bound = checked((int)ZstdNative.CompressBound((nuint)source.Length));
        var span = destination.GetSpan(bound);
        fixed (byte* input = source)
        fixed (byte* output = span)
        {
            var result = ZstdNative.Compress(output, (nuint)span.Length, input, (nuint)source.Length, level);
            if (ZstdNative.IsError(result) != 0)
            {
                throw new InvalidOperationException($"ZSTD_compress failed: {ZstdNative.ErrorName(result)}");
            }

            destination.Advance((int)result);
        }
    }

    /// <summary>Decodes one or more zstd frames; returns the number of bytes appended.</summary>
    public static unsafe int Decompress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int decompressedBytesMax)
    {
        DecompressionLimit.Check(decompressedBytesMax);
        var context = ZstdNative.CreateDecompressionContext();
        if (context == 0)
        {
            throw new OutOfMemoryException("ZSTD_createDCtx returned null");
        }

        try
        {
            // The window is memory the decoder allocates from a number in the frame header. Beyond the floor,
            // a window larger than the whole permitted output is refused: it cannot be needed to decode it.
            var windowLog = Math.Clamp(BitOperations.Log2(BitOperations.RoundUpToPowerOf2((uint)Math.Max(decompressedBytesMax, 1))), WindowLogFloor, WindowLogLimit);
            var set = ZstdNative.SetDecompressionParameter(context, ZstdNative.WindowLogMaxParameter, windowLog);
            if (ZstdNative.IsError(set) != 0)
            {
                throw new InvalidOperationException($"ZSTD_DCtx_setParameter failed: {ZstdNative.ErrorName(set)}");
            }

            fixed (byte* inputPointer = source)
            {
                var input = new ZstdNative.InBuffer { Source = inputPointer, Size = (nuint)source.Length };
                long written = 0;
                while (true)
                {
                    var span = destination.GetSpan(ChunkBytes);
                    var offered = DecompressionLimit.NextChunk(span.Length, written, decompressedBytesMax);
                    var consumedBefore = input.Position;
                    nuint result;
                    nuint produced;
                    fixed (byte* outputPointer = span)
                    {
                        var output = new ZstdNative.OutBuffer { Destination = outputPointer, Size = (nuint)offered };
                        result = ZstdNative.DecompressStream(context, &output, &input);
                        produced = output.Position;
                    }

                    if (ZstdNative.IsError(result) != 0)
                    {
                        throw new ProtocolException($"malformed zstd frame near byte {input.Position}: {ZstdNative.ErrorName(result)}");
                    }

                    destination.Advance((int)produced);
                    written += (long)produced;
                    if (written > decompressedBytesMax)
                    {
                        throw DecompressionLimit.Exceeded("zstd", decompressedBytesMax);
                    }

                    // result 0: a frame is complete and fully flushed; another frame may follow.
                    if (result == 0 && input.Position == input.Size)
                    {
                        return (int)written;
                    }

                    if (produced == 0 && input.Position == consumedBefore)
                    {
                        throw new ProtocolException(input.Position == input.Size
                            ? $"zstd frame truncated after {source.Length} bytes"
                            : $"zstd decoder made no progress at byte {input.Position}");
                    }
                }
            }
        }
        finally
        {
            ZstdNative.FreeDecompressionContext(context);
        }
    }
}
