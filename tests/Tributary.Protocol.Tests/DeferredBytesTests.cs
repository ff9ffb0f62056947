using System.Buffers;
using Tributary.Protocol.Messages;

namespace Tributary.Protocol.Tests;

/// <summary>Records whose bytes are copied into the output only when the message is written (fetch from a segment file).</summary>
public sealed class DeferredBytesTests
{
    [Theory]
    [InlineData(4)] // non-flexible: int32 length
    [InlineData(12)] // flexible: compact length
    public void AFetchResponseWithDeferredRecordsIsByteForByteTheSameAndTheRecordsAreCopiedPieceByPieceNotMaterialized(short version)
    {
        var bytes = new byte[300_000];
        new Random(7).NextBytes(bytes);
        var deferred = new ArrayBackedDeferredBytes(bytes, 1000, 200_000);
        var plain = Write(version, bytes.AsMemory(1000, 200_000));
        var small = new SmallSegmentWriter(5000);

        var withDeferred = Write(version, deferred.Memory, small);

        Assert.Equal(plain, withDeferred);
        Assert.False(deferred.IsMaterialized);
        Assert.True(deferred.Copies > 1, "copied in the output's own pieces");
        Assert.All(deferred.Pieces, p => Assert.True(p <= 5000));
    }

    [Fact]
    public void CodeThatReadsTheSpanGetsTheBytesReadOnce()
    {
        var bytes = Enumerable.Range(0, 100).Select(i => (byte)i).ToArray();
        var deferred = new ArrayBackedDeferredBytes(bytes, 10, 50);
        ReadOnlyMemory<byte> memory = deferred.Memory;

        Assert.Equal(50, memory.Length);
        Assert.Equal(0, deferred.Copies);
        Assert.Equal(bytes[10..60], memory.Span.ToArray());
        Assert.Equal(bytes[20..30], memory[10..20].ToArray());
        Assert.Equal(1, deferred.Copies);
        Assert.True(deferred.IsMaterialized);
    }

    private static byte[] Write(short version, ReadOnlyMemory<byte> records, IBufferWriter<byte>? output = null)
    {
        var response = new FetchResponse
        {
            Responses =
            [
                new FetchResponse.FetchableTopicResponse
                {
                    Topic = "t",
                    Partitions = [new FetchResponse.PartitionData { PartitionIndex = 3, HighWatermark = 9, Records = records }],
                },
            ],
        };
        var buffer = output ?? new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        response.Write(ref writer, version);
        return buffer is SmallSegmentWriter small ? small.ToArray() : ((ArrayBufferWriter<byte>)buffer).WrittenSpan.ToArray();
    }

    private sealed class ArrayBackedDeferredBytes(byte[] source, int start, int length) : DeferredBytes(length)
    {
        public int Copies { get; private set; }

        public List<int> Pieces { get; } = [];

        public override void CopyTo(int offset, Span<byte> destination)
        {
            Copies++;
            Pieces.Add(destination.Length);
            source.AsSpan(start + offset, destination.Length).CopyTo(destination);
        }
    }

    /// <summary>An output that hands out at most <paramref name="pieceBytes"/> at a time, as a pipe of small blocks does.</summary>
    private sealed class SmallSegmentWriter(int pieceBytes) : IBufferWriter<byte>
    {
        private readonly ArrayBufferWriter<byte> _inner = new();

        public void Advance(int count) => _inner.Advance(count);

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            var memory = _inner.GetMemory(Math.Max(sizeHint, 1));
            return memory[..Math.Min(memory.Length, Math.Max(sizeHint, pieceBytes))];
        }

        public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

        public byte[] ToArray() => _inner.WrittenSpan.ToArray();
    }
}
