using System.Buffers;
using System.Numerics;
using ZstdSharp.Unsafe;

namespace Tributary.Protocol.Compression;

/// <summary>
/// Kafka codec 4. Decompression streams because producers that compress as a stream (the Java client)
/// leave the frame's content size out, so the output size is only known at the end. The codec is ZstdSharp, a
/// managed port of libzstd with the same C API, so no system library is needed (bench/journal/codecs.md).
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
        var bound = checked((int)Methods.ZSTD_compressBound((nuint)source.Length));
        var span = destination.GetSpan(bound);
        fixed (byte* input = source)
        fixed (byte* output = span)
        {
            var result = Methods.ZSTD_compress(output, (nuint)span.Length, input, (nuint)source.Length, level);
            if (Methods.ZSTD_isError(result))
            {
                throw new InvalidOperationException($"ZSTD_compress failed: {Methods.ZSTD_getErrorName(result)}");
            }

            destination.Advance((int)result);
        }
    }

    /// <summary>Decodes one or more zstd frames; returns the number of bytes appended.</summary>
    public static unsafe int Decompress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int decompressedBytesMax)
    {
        DecompressionLimit.Check(decompressedBytesMax);
        var context = Methods.ZSTD_createDCtx();
        if (context == null)
        {
            throw new OutOfMemoryException("ZSTD_createDCtx returned null");
        }

        try
        {
            // The window is memory the decoder allocates from a number in the frame header. Beyond the floor,
            // a window larger than the whole permitted output is refused: it cannot be needed to decode it.
            var windowLog = Math.Clamp(BitOperations.Log2(BitOperations.RoundUpToPowerOf2((uint)Math.Max(decompressedBytesMax, 1))), WindowLogFloor, WindowLogLimit);
            var set = Methods.ZSTD_DCtx_setParameter(context, ZSTD_dParameter.ZSTD_d_windowLogMax, windowLog);
            if (Methods.ZSTD_isError(set))
            {
                throw new InvalidOperationException($"ZSTD_DCtx_setParameter failed: {Methods.ZSTD_getErrorName(set)}");
            }

            fixed (byte* inputPointer = source)
            {
                var input = new ZSTD_inBuffer_s { src = inputPointer, size = (nuint)source.Length };
                long written = 0;
                while (true)
                {
                    var span = destination.GetSpan(ChunkBytes);
                    var offered = DecompressionLimit.NextChunk(span.Length, written, decompressedBytesMax);
                    var consumedBefore = input.pos;
                    nuint result;
                    nuint produced;
                    fixed (byte* outputPointer = span)
                    {
                        var output = new ZSTD_outBuffer_s { dst = outputPointer, size = (nuint)offered };
                        result = Methods.ZSTD_decompressStream(context, &output, &input);
                        produced = output.pos;
                    }

                    if (Methods.ZSTD_isError(result))
                    {
                        throw new ProtocolException($"malformed zstd frame near byte {input.pos}: {Methods.ZSTD_getErrorName(result)}");
                    }

                    destination.Advance((int)produced);
                    written += (long)produced;
                    if (written > decompressedBytesMax)
                    {
                        throw DecompressionLimit.Exceeded("zstd", decompressedBytesMax);
                    }

                    // result 0: a frame is complete and fully flushed; another frame may follow.
                    if (result == 0 && input.pos == input.size)
                    {
                        return (int)written;
                    }

                    if (produced == 0 && input.pos == consumedBefore)
                    {
                        throw new ProtocolException(input.pos == input.size
                            ? $"zstd frame truncated after {source.Length} bytes"
                            : $"zstd decoder made no progress at byte {input.pos}");
                    }
                }
            }
        }
        finally
        {
            Methods.ZSTD_freeDCtx(context);
        }
    }
}
