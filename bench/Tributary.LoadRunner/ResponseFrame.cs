using System.Buffers;

namespace Tributary.LoadRunner;

/// <summary>One response frame without its size prefix, in a pooled buffer the receiver must return.</summary>
internal readonly struct ResponseFrame(byte[] buffer, int length) : IDisposable
{
    public ReadOnlyMemory<byte> Memory => buffer.AsMemory(0, length);

    public int Length => length;

    public void Dispose() => ArrayPool<byte>.Shared.Return(buffer);
}
