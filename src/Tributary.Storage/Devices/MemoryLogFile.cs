namespace Tributary.Storage.Devices;

/// <summary>A handle on a <see cref="MemoryFileData"/>; using it after Dispose throws, like a closed file handle.</summary>
internal sealed class MemoryLogFile(MemoryFileData data, Action onFlush) : ILogFile
{
    private volatile bool _disposed;

    public long Length
    {
        get
        {
            ThrowIfDisposed();
            return data.Length;
        }
    }

    public void Append(ReadOnlySpan<byte> bytes)
    {
        ThrowIfDisposed();
        data.Append(bytes);
    }

    public int ReadAt(long position, Span<byte> destination)
    {
        ThrowIfDisposed();
        return data.ReadAt(position, destination);
    }

    public void Truncate(long length)
    {
        ThrowIfDisposed();
        data.Truncate(length);
    }

    public void Trim() => ThrowIfDisposed();

    public void Flush()
    {
        ThrowIfDisposed();
        data.Flush();
        onFlush();
    }

    public void Dispose() => _disposed = true;

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
