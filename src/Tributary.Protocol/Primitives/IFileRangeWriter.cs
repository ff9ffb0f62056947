using Microsoft.Win32.SafeHandles;

namespace Tributary.Protocol;

/// <summary>
/// An output that can send bytes straight from a file (a socket, with sendfile(2)): <see cref="KafkaWriter"/> hands
/// it the file range of <see cref="DeferredBytes"/> instead of copying them, so a fetch's records go from the page
/// cache to the network without passing through the broker's memory.
/// </summary>
public interface IFileRangeWriter
{
    /// <summary>
    /// Places <paramref name="length"/> bytes of <paramref name="file"/> from <paramref name="position"/> in the output
    /// right after the bytes written so far; they count as written. The writer keeps the file open until they are sent.
    /// False when it cannot (the caller then copies the bytes itself).
    /// </summary>
    bool TryWriteFileRange(SafeFileHandle file, long position, int length);
}
