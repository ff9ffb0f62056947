using Microsoft.Win32.SafeHandles;

namespace Tributary.Storage.Devices;

/// <summary>
/// One file of an <see cref="OpenFileCache"/>: its path and, while the cache holds it, its open handle. Every use
/// takes a <see cref="FileHandleLease"/>, which reopens the file if the cache closed it and holds a reference on the
/// handle, so an eviction meanwhile closes the descriptor only once the use is over. Thread-safe.
/// </summary>
internal sealed class CachedFileHandle : IDisposable
{
    private readonly OpenFileCache _cache;
    private readonly Lock _openLock = new();
    private string _path;
    private SafeFileHandle? _handle;
    private long _lastUse;
    private bool _closed;

    internal CachedFileHandle(OpenFileCache cache, string path, SafeFileHandle handle)
    {
        _cache = cache;
        _path = path;
        _handle = handle;
        _lastUse = OpenFileCache.Now();
    }

    /// <summary>Where this file is in the cache's list of open files, or -1 (the cache's, under its lock).</summary>
    internal int OpenSlot { get; set; } = -1;

    internal long LastUse => Volatile.Read(ref _lastUse);

    /// <summary>The handle if the file is open now, without opening it (null when evicted or closed).</summary>
    public SafeFileHandle? OpenHandle => Volatile.Read(ref _handle);

    /// <summary>
    /// The file's handle, reopened if the cache closed it, with a reference held until the lease is disposed. Throws
    /// <see cref="ObjectDisposedException"/> once the file is closed and an <see cref="IOException"/> when it cannot be
    /// reopened (deleted meanwhile, or out of descriptors).
    /// </summary>
    public FileHandleLease Lease()
    {
        var handle = Volatile.Read(ref _handle);
        if (handle is null || !TryAddRef(handle))
        {
            handle = Reopen();
        }

        Volatile.Write(ref _lastUse, OpenFileCache.Now());
        return new FileHandleLease(handle);
    }

    /// <summary>Renames the file with <paramref name="move"/>; no reopen can look for it under either name meanwhile.</summary>
    public void Rename(string destinationPath, Action move)
    {
        lock (_openLock)
        {
            move();
            var from = _path;
            _path = destinationPath;
            _cache.OnRenamed(this, from, destinationPath);
        }
    }

    /// <summary>The cache's, under its lock: takes the handle away so the next use reopens the file.</summary>
    internal SafeFileHandle? TakeHandle() => Interlocked.Exchange(ref _handle, null);

    public void Dispose()
    {
        lock (_openLock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            _cache.OnClosed(this, _path);
        }
    }

    private SafeFileHandle Reopen()
    {
        lock (_openLock)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            var handle = Volatile.Read(ref _handle);
            if (handle is not null && TryAddRef(handle))
            {
                return handle;
            }

            // FileMode.Open: a file deleted meanwhile is an error, never a new empty file under its name.
            handle = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            var added = false;
            handle.DangerousAddRef(ref added);
            Volatile.Write(ref _handle, handle);
            Volatile.Write(ref _lastUse, OpenFileCache.Now());
            _cache.OnOpened(this);
            return handle;
        }
    }

    private static bool TryAddRef(SafeFileHandle handle)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
        }

        return added;
    }
}
