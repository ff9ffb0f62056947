using System.Buffers;

namespace Tributary.Protocol.Tests;

/// <summary>Kafka's primitive encodings at their edges, and the precise errors for malformed input.</summary>
public sealed class PrimitiveTests
{
    [Theory]
    [InlineData(0, new byte[] { 0x00 })]
    [InlineData(-1, new byte[] { 0x01 })]
    [InlineData(1, new byte[] { 0x02 })]
    [InlineData(-64, new byte[] { 0x7F })]
    [InlineData(64, new byte[] { 0x80, 0x01 })]
    [InlineData(int.MaxValue, new byte[] { 0xFE, 0xFF, 0xFF, 0xFF, 0x0F })]
    [InlineData(int.MinValue, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x0F })]
    public void VarIntMatchesKafkaZigZag(int value, byte[] expected)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        writer.WriteVarInt(value);
        Assert.Equal(expected, buffer.WrittenSpan.ToArray());
        Assert.Equal(expected.Length, VarIntSize.OfSigned(value));

        var reader = new KafkaReader(expected);
        Assert.Equal(value, reader.ReadVarInt());
        Assert.True(reader.End);
    }

    [Theory]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    [InlineData(0L)]
    [InlineData(-300L)]
    public void VarLongRoundTrips(long value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        writer.WriteVarLong(value);
        Assert.Equal(buffer.WrittenCount, VarIntSize.OfSignedLong(value));
        var reader = new KafkaReader(buffer.WrittenMemory);
        Assert.Equal(value, reader.ReadVarLong());
    }

    [Fact]
    public void OverlongVarIntIsRejected()
    {
        var e = Assert.Throws<ProtocolException>(() => new KafkaReader(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }).ReadUnsignedVarInt());
        Assert.Contains("varint", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidUtf8IsRejected()
    {
        var e = Assert.Throws<ProtocolException>(() => new KafkaReader(new byte[] { 0x00, 0x02, 0xC3, 0x28 }).ReadString(compact: false));
        Assert.Contains("UTF-8", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void NegativeLengthBelowMinusOneIsRejected()
    {
        var e = Assert.Throws<ProtocolException>(() => new KafkaReader(new byte[] { 0xFF, 0xFE }).ReadNullableString(compact: false));
        Assert.Contains("negative length", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void TruncatedInt32IsRejected()
    {
        var e = Assert.Throws<ProtocolException>(() => new KafkaReader(new byte[] { 0x00, 0x01 }).ReadInt32());
        Assert.Contains("truncated", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void UuidIsBigEndianOnTheWire()
    {
        var bytes = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();
        var uuid = new KafkaReader(bytes).ReadUuid();
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        writer.WriteUuid(uuid);
        Assert.Equal(bytes, buffer.WrittenSpan.ToArray());
        Assert.StartsWith("01020304-0506-0708", uuid.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void FrameReaderNeedsMoreThenYieldsTheFrame()
    {
        var reader = new FrameReader(frameBytesMax: 100);
        byte[] stream = [0, 0, 0, 3, 10, 20, 30, 99];

        Assert.Equal(FrameStatus.NeedMoreData, reader.TryRead(new ReadOnlySequence<byte>(stream, 0, 3)).Status);
        Assert.Equal(FrameStatus.NeedMoreData, reader.TryRead(new ReadOnlySequence<byte>(stream, 0, 6)).Status);
        var result = reader.TryRead(new ReadOnlySequence<byte>(stream));
        Assert.Equal(FrameStatus.Frame, result.Status);
        Assert.Equal(new byte[] { 10, 20, 30 }, result.Frame.ToArray());
        Assert.Equal(7, new ReadOnlySequence<byte>(stream).Slice(0, result.Consumed).Length);
    }

    [Theory]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF }, "negative")]
    [InlineData(new byte[] { 0x00, 0x00, 0x01, 0x00 }, "exceeds")]
    public void FrameReaderRejectsImpossibleSizesBeforeBuffering(byte[] prefix, string reason)
    {
        var result = new FrameReader(frameBytesMax: 100).TryRead(new ReadOnlySequence<byte>(prefix));
        Assert.Equal(FrameStatus.Invalid, result.Status);
        Assert.Contains(reason, result.Reason, StringComparison.Ordinal);
    }
}
