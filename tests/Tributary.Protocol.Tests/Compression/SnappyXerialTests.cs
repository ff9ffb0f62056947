using System.Buffers;
using System.Buffers.Binary;
using Tributary.Protocol.Compression;

namespace Tributary.Protocol.Tests.Compression;

public sealed class SnappyXerialTests
{
    // Raw snappy blocks written by hand: a varint uncompressed length, then one literal element whose tag
    // byte is (length - 1) << 2.
    private static readonly byte[] HelloBlock = [0x05, 0x10, .. "hello"u8];
    private static readonly byte[] WorldBlock = [0x06, 0x14, .. " world"u8];

    private static byte[] Framed(params byte[][] blocks)
    {
        var framed = new List<byte>([0x82, (byte)'S', (byte)'N', (byte)'A', (byte)'P', (byte)'P', (byte)'Y', 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
        foreach (var block in blocks)
        {
            var length = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(length, block.Length);
            framed.AddRange(length);
            framed.AddRange(block);
        }

        return [.. framed];
    }

    private static byte[] Decompress(byte[] data, int decompressedBytesMax = 1 << 20)
    {
        var output = new ArrayBufferWriter<byte>();
        SnappyCodec.Decompress(data, output, decompressedBytesMax);
        return output.WrittenSpan.ToArray();
    }

    [Fact]
    public void Hand_built_xerial_stream_with_two_blocks_decodes_to_their_concatenation()
    {
        Assert.Equal("hello world"u8.ToArray(), Decompress(Framed(HelloBlock, WorldBlock)));
    }

    [Fact]
    public void Hand_built_raw_block_without_framing_decodes()
    {
        Assert.Equal("hello"u8.ToArray(), Decompress(HelloBlock));
    }

    [Fact]
    public void Xerial_header_with_no_blocks_is_empty()
    {
        Assert.Empty(Decompress(Framed()));
    }

    [Fact]
    public void Compress_writes_xerial_framing_with_32_KiB_blocks()
    {
        var data = new byte[100_000];
        new Random(5).NextBytes(data);
        var output = new ArrayBufferWriter<byte>();
        SnappyCodec.Compress(data, output);
        var framed = output.WrittenSpan;

        Assert.True(SnappyCodec.IsXerialFramed(framed));
        Assert.Equal(1, BinaryPrimitives.ReadInt32BigEndian(framed[8..]));
        Assert.Equal(1, BinaryPrimitives.ReadInt32BigEndian(framed[12..]));

        var blocks = 0;
        var position = SnappyCodec.XerialHeaderBytes;
        while (position < framed.Length)
        {
            position += 4 + BinaryPrimitives.ReadInt32BigEndian(framed[position..]);
            blocks++;
        }

        Assert.Equal(position, framed.Length);
        Assert.Equal(4, blocks); // ceil(100000 / 32768)
        Assert.Equal(data, Decompress(framed.ToArray()));
    }

    [Fact]
    public void Block_length_past_the_end_is_a_protocol_exception()
    {
        var framed = Framed(HelloBlock);
        BinaryPrimitives.WriteInt32BigEndian(framed.AsSpan(16), 1000);
        var e = Assert.Throws<ProtocolException>(() => Decompress(framed));
        Assert.Contains("claims 1000 bytes", e.Reason);
    }

    [Fact]
    public void Cut_block_length_prefix_is_a_protocol_exception()
    {
        var framed = Framed(HelloBlock);
        Assert.Throws<ProtocolException>(() => Decompress([.. framed, 0, 0]));
    }

    [Fact]
    public void Limit_applies_across_blocks()
    {
        // Each block alone fits in 8 bytes; together they do not.
        var e = Assert.Throws<ProtocolException>(() => Decompress(Framed(HelloBlock, WorldBlock), decompressedBytesMax: 8));
        Assert.Contains("8 bytes allowed", e.Reason);
    }

    [Fact]
    public void Raw_block_declaring_a_huge_length_is_refused_before_decoding()
    {
        // Varint 0xFFFFFFFF0F = 4 GiB - 1 declared, followed by nothing useful.
        byte[] bomb = [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00];
        Assert.Throws<ProtocolException>(() => Decompress(bomb));
    }
}
