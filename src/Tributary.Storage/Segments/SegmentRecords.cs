using System.Diagnostics.CodeAnalysis;
using Microsoft.Win32.SafeHandles;
using Tributary.Protocol;
using Tributary.Storage.Devices;

namespace Tributary.Storage.Segments;

/// <summary>
/// Whole batches of one segment file, read only when a response is serialized (<see cref="DeferredBytes"/>): a fetch
/// copies them from the page cache straight into the socket's buffers, or a socket sends them from the file itself
/// (<see cref="TryGetFile"/>). The bytes below the segment's size never
/// change; if the segment is deleted (retention) before they are sent, the copy fails with an <see cref="IOException"/>
/// and the connection sending them is closed, and the client fetches again.
/// </summary>
public sealed class SegmentRecords : DeferredBytes
{
    private readonly ILogFile _file;
    private readonly long _position;

    internal SegmentRecords(ILogFile file, long position, int length, long nextOffset)
        : base(length)
    {
        _file = file;
        _position = position;
        NextOffset = nextOffset;
    }

    /// <summary>The offset after the last batch.</summary>
    public long NextOffset { get; }

    public override bool TryGetFile([NotNullWhen(true)] out SafeFileHandle? file, out long position)
    {
        file = _file.Handle;
        position = _position;
        return file is not null;
    }

    public override void CopyTo(int offset, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset + destination.Length, Length);
        int read;
        try
        {
            read = _file.ReadAt(_position + offset, destination);
        }
        catch (ObjectDisposedException e)
        {
            throw new IOException("the segment was closed before its records were sent", e);
        }

        if (read != destination.Length)
        {
            throw new IOException($"the segment ended {destination.Length - read} bytes before its records did");
        }
    }
}
