using System.Buffers;
using Tributary.Protocol.Compression;
using Tributary.Protocol.Records;

namespace Tributary.Protocol.Tests.Compression;

public sealed class CompressionCodecTests
{
    public static TheoryData<CompressionType> AllCodecs =>
        [CompressionType.None, CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd];

    public static TheoryData<CompressionType> RealCodecs =>
        [CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd];

    private static byte[] Compress(CompressionType type, ReadOnlySpan<byte> data)
    {
        var output = new ArrayBufferWriter<byte>();
        CompressionCodec.Compress(type, data, output);
        return output.WrittenSpan.ToArray();
    }

    private static byte[] Decompress(CompressionType type, ReadOnlySpan<byte> data, int decompressedBytesMax)
    {
        var output = new ArrayBufferWriter<byte>();
        var written = CompressionCodec.Decompress(type, data, output, decompressedBytesMax);
        Assert.Equal(output.WrittenCount, written);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Half random, half repetitive: exercises both literal and match paths of every codec.</summary>
    private static byte[] SampleData(int length, int seed)
    {
        var data = new byte[length];
        var random = new Random(seed);
        random.NextBytes(data.AsSpan(0, length / 2));
        for (var i = length / 2; i < length; i++)
        {
            data[i] = (byte)"tributary record "[i % 17];
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AllCodecs))]
    public void Round_trip_restores_the_bytes_for_empty_small_and_multi_block_inputs(CompressionType type)
    {
        // 300 KB spans several snappy (32 KiB), lz4 (64 KiB) and decoder output chunks.
        foreach (var length in new[] { 0, 1, 1000, 300_000 })
        {
            var data = SampleData(length, seed: length);
            var compressed = Compress(type, data);
            Assert.Equal(data, Decompress(type, compressed, length));
        }
    }

    [Theory]
    [MemberData(nameof(RealCodecs))]
    public void Compression_shrinks_repetitive_data(CompressionType type)
    {
        var data = new byte[100_000];
        Array.Fill(data, (byte)'a');
        Assert.True(Compress(type, data).Length < 10_000);
    }

    [Theory]
    [MemberData(nameof(AllCodecs))]
    public void Decompression_beyond_the_limit_fails_instead_of_allocating(CompressionType type)
    {
        // 4 MiB of zeros compresses to a few KB: the shape of a zip bomb.
        var data = new byte[4 * 1024 * 1024];
        var compressed = Compress(type, data);
        var output = new ArrayBufferWriter<byte>();

        var e = Assert.Throws<ProtocolException>(() => CompressionCodec.Decompress(type, compressed, output, 1024 * 1024));
        Assert.Contains("1048576 bytes allowed", e.Reason);
        Assert.True(output.WrittenCount <= 1024 * 1024 + 64 * 1024, $"wrote {output.WrittenCount} bytes before stopping");
    }

    [Theory]
    [MemberData(nameof(AllCodecs))]
    public void Output_exactly_at_the_limit_is_accepted(CompressionType type)
    {
        var data = SampleData(50_000, seed: 7);
        Assert.Equal(data, Decompress(type, Compress(type, data), data.Length));
    }

    [Theory]
    [MemberData(nameof(RealCodecs))]
    public void Garbage_input_is_a_protocol_exception(CompressionType type)
    {
        var garbage = new byte[256];
        new Random(42).NextBytes(garbage);
        Assert.Throws<ProtocolException>(() => Decompress(type, garbage, 1 << 20));
    }

    [Theory]
    [MemberData(nameof(RealCodecs))]
    public void Truncated_input_is_a_protocol_exception(CompressionType type)
    {
        var compressed = Compress(type, SampleData(100_000, seed: 3));
        foreach (var keep in new[] { 0, 1, 5, compressed.Length / 2, compressed.Length - 1 })
        {
            Assert.Throws<ProtocolException>(() => Decompress(type, compressed.AsSpan(0, keep), 1 << 20));
        }
    }

    [Theory]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public void Concatenated_frames_decode_to_the_concatenation(CompressionType type)
    {
        var first = SampleData(70_000, seed: 11);
        var second = SampleData(5_000, seed: 12);
        byte[] both = [.. Compress(type, first), .. Compress(type, second)];
        Assert.Equal([.. first, .. second], Decompress(type, both, first.Length + second.Length));
    }

    [Theory]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public void A_bomb_split_over_many_frames_is_refused_at_the_limit(CompressionType type)
    {
        // 64 frames of 64 KiB zeros each: every frame alone is far below the limit, together they are 4 MiB.
        var output = new ArrayBufferWriter<byte>();
        var frame = Compress(type, new byte[64 * 1024]);
        var bomb = Enumerable.Repeat(frame, 64).SelectMany(bytes => bytes).ToArray();
        const int limit = 1024 * 1024;

        var e = Assert.Throws<ProtocolException>(() => CompressionCodec.Decompress(type, bomb, output, limit));
        Assert.Contains($"{limit} bytes allowed", e.Reason);
        Assert.True(output.WrittenCount <= limit + 64 * 1024, $"wrote {output.WrittenCount} bytes before stopping");
    }

    [Fact]
    public void Unknown_codec_id_is_a_protocol_exception()
    {
        var e = Assert.Throws<ProtocolException>(() => Decompress((CompressionType)5, [1, 2, 3], 100));
        Assert.Contains("codec 5", e.Reason);
    }

    [Fact]
    public void Lz4_output_is_a_standard_frame_with_independent_blocks()
    {
        var compressed = Compress(CompressionType.Lz4, SampleData(1000, seed: 1));

        // LZ4 frame magic 0x184D2204 (little-endian), then FLG: version 01, block independence bit set.
        Assert.Equal(new byte[] { 0x04, 0x22, 0x4D, 0x18 }, compressed[..4]);
        Assert.Equal(0x40, compressed[4] & 0xC0);
        Assert.NotEqual(0, compressed[4] & 0x20);
    }

    [Fact]
    public void Zstd_frame_without_content_size_decodes_by_streaming()
    {
        // A zstd frame whose header omits the content size, as streaming producers write it: magic,
        // frame header descriptor 0x00 (no content size, single segment off) with window byte, then one
        // raw block (type 0, last) of "abc".
        byte[] frame = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x00, 0x19, 0x00, 0x00, (byte)'a', (byte)'b', (byte)'c'];
        Assert.Equal("abc"u8.ToArray(), Decompress(CompressionType.Zstd, frame, 100));
    }
}
