using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tributary.Protocol;

/// <summary>
/// Bytes that stay where they are (a stored log segment, say) until a message is serialized: <see cref="KafkaWriter"/>
/// asks them to copy themselves straight into its output, so a fetch response's records go from the page cache into
/// the socket's buffers in one copy instead of two. Anything else that looks at <see cref="GetSpan"/> gets the
/// bytes read into an array on first use, so code that does not know about deferral still sees the right bytes.
/// </summary>
public abstract class DeferredBytes : MemoryManager<byte>
{
    private byte[]? _materialized;

    protected DeferredBytes(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
    }

    /// <summary>Number of bytes.</summary>
    public int Length { get; }

    /// <summary>Whether something has read all the bytes into an array (through <see cref="GetSpan"/> or <see cref="Pin"/>).</summary>
    public bool IsMaterialized => _materialized is not null;

    /// <summary>The bytes as memory, without reading them (the base class would, to learn their length).</summary>
    public override Memory<byte> Memory => CreateMemory(Length);

    /// <summary>
    /// Copies bytes <paramref name="offset"/> to <c>offset + destination.Length</c> into <paramref name="destination"/>.
    /// Throws <see cref="IOException"/> when they can no longer be read.
    /// </summary>
    public abstract void CopyTo(int offset, Span<byte> destination);

    /// <summary>
    /// The open file holding these bytes and where they start in it, for an output that sends straight from files
    /// (<see cref="IFileRangeWriter"/>); false when they are not in a file (an in-memory log).
    /// </summary>
    public virtual bool TryGetFile([NotNullWhen(true)] out SafeFileHandle? file, out long position)
    {
        file = null;
        position = 0;
        return false;
    }

    public override Span<byte> GetSpan() => Materialize();

    public override unsafe MemoryHandle Pin(int elementIndex = 0)
    {
        var array = Materialize();
        var handle = GCHandle.Alloc(array, GCHandleType.Pinned);
        return new MemoryHandle((byte*)handle.AddrOfPinnedObject() + elementIndex, handle, this);
    }

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing) => _materialized = null;

    private byte[] Materialize()
    {
        if (_materialized is null)
        {
            var array = GC.AllocateUninitializedArray<byte>(Length);
            CopyTo(0, array);
            _materialized = array;
        }

        return _materialized;
    }
}
