using System.Buffers;
using System.Buffers.Binary;

namespace Tributary.Protocol;

public enum FrameStatus
{
    NeedMoreData,
    Frame,
    Invalid,
}

/// <summary>What <see cref="FrameReader.TryRead"/> found at the start of a buffer.</summary>
public readonly record struct FrameResult(FrameStatus Status, ReadOnlySequence<byte> Frame, SequencePosition Consumed, string? Reason);

/// <summary>
/// Splits a byte stream into Kafka frames: a 4-byte big-endian size, then that many bytes. A size that is
/// negative or above <see cref="FrameBytesMax"/> is invalid before any byte of the body is buffered.
/// </summary>
public sealed class FrameReader(int frameBytesMax)
{
    public const int SizePrefixBytes = 4;

    public int FrameBytesMax { get; } = frameBytesMax > 0 ? frameBytesMax : throw new ArgumentOutOfRangeException(nameof(frameBytesMax));

    public FrameResult TryRead(in ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < SizePrefixBytes)
        {
            return new FrameResult(FrameStatus.NeedMoreData, default, buffer.Start, null);
        }

        Span<byte> prefix = stackalloc byte[SizePrefixBytes];
        buffer.Slice(0, SizePrefixBytes).CopyTo(prefix);
        var size = BinaryPrimitives.ReadInt32BigEndian(prefix);
        if (size < 0)
        {
            return new FrameResult(FrameStatus.Invalid, default, buffer.Start, $"negative frame size {size}");
        }

        if (size > FrameBytesMax)
        {
            return new FrameResult(FrameStatus.Invalid, default, buffer.Start, $"frame size {size} exceeds the limit of {FrameBytesMax} bytes");
        }

        if (buffer.Length - SizePrefixBytes < size)
        {
            return new FrameResult(FrameStatus.NeedMoreData, default, buffer.Start, null);
        }

        var frame = buffer.Slice(SizePrefixBytes, size);
        return new FrameResult(FrameStatus.Frame, frame, frame.End, null);
    }
}
