using System.Diagnostics;
using Microsoft.Win32.SafeHandles;

namespace Tributary.Storage.Devices;

/// <summary>
/// A bounded set of open file descriptors, least recently used closed first (Redpanda keeps segment files behind such a
/// cache): a log file holds a descriptor only while it is used, so 50,000 partitions run within a descriptor limit far
/// below three per segment. Files register here (<see cref="CachedFileHandle"/>) and reopen on their next use after
/// an eviction.
/// <para>
/// The bound counts the descriptors the cache holds. A descriptor evicted while an operation or a socket's send still
/// holds a reference on its handle (<see cref="System.Runtime.InteropServices.SafeHandle.DangerousAddRef"/>) closes when that reference is released,
/// so the process may briefly hold more, by the number of operations in flight.
/// </para>
/// </summary>
internal sealed class OpenFileCache
{
    /// <summary>No bound: files stay open until they are closed (tests, tools).</summary>
    public static OpenFileCache Unbounded { get; } = new(int.MaxValue);

    private readonly Lock _lock = new();
    private readonly List<CachedFileHandle> _open = [];
    private readonly Dictionary<string, CachedFileHandle> _byPath = new(StringComparer.Ordinal);
    private long _evictions;

    public OpenFileCache(int openFilesMax)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(openFilesMax, 1);
        OpenFilesMax = openFilesMax;
    }

    /// <summary>Descriptors the cache holds at most; opening one more closes the least recently used.</summary>
    public int OpenFilesMax { get; }

    /// <summary>Descriptors the cache holds now.</summary>
    public int OpenFiles
    {
        get
        {
            lock (_lock)
            {
                return _open.Count;
            }
        }
    }

    /// <summary>Descriptors closed to make room since the cache was made.</summary>
    public long Evictions => Interlocked.Read(ref _evictions);

    /// <summary>Takes <paramref name="handle"/>, just opened at <paramref name="path"/>, into the cache.</summary>
    public CachedFileHandle Add(string path, SafeFileHandle handle)
    {
        var file = new CachedFileHandle(this, path, handle);
        lock (_lock)
        {
            _byPath[path] = file;
        }

        OnOpened(file);
        return file;
    }

    /// <summary>The live file last registered at <paramref name="path"/>, if any (a rename moves it along).</summary>
    public bool TryFind(string path, out CachedFileHandle file)
    {
        lock (_lock)
        {
            return _byPath.TryGetValue(path, out file!);
        }
    }

    internal static long Now() => Stopwatch.GetTimestamp();

    /// <summary><paramref name="file"/> holds a descriptor again; evicts the least recently used ones past the bound.</summary>
    internal void OnOpened(CachedFileHandle file)
    {
        lock (_lock)
        {
            if (file.OpenSlot < 0)
            {
                file.OpenSlot = _open.Count;
                _open.Add(file);
            }

            if (_open.Count > OpenFilesMax)
            {
                EvictLeastRecentlyUsed(file);
            }
        }
    }

    internal void OnRenamed(CachedFileHandle file, string from, string to)
    {
        lock (_lock)
        {
            if (_byPath.TryGetValue(from, out var registered) && registered == file)
            {
                _byPath.Remove(from);
            }

            _byPath[to] = file;
        }
    }

    /// <summary><paramref name="file"/> was closed by its owner: its descriptor goes now, and it leaves the cache.</summary>
    internal void OnClosed(CachedFileHandle file, string path)
    {
        lock (_lock)
        {
            if (_byPath.TryGetValue(path, out var registered) && registered == file)
            {
                _byPath.Remove(path);
            }

            Forget(file);
        }
    }

    // Evicting one at a time would sort the whole set for every open once the cache is full; a sixteenth of the bound
    // at once makes that cost a constant per open.
    private void EvictLeastRecentlyUsed(CachedFileHandle keep)
    {
        var count = _open.Count - OpenFilesMax + (OpenFilesMax / 16);
        var byAge = _open.ToArray();
        var lastUses = Array.ConvertAll(byAge, f => f.LastUse);
        Array.Sort(lastUses, byAge);
        foreach (var file in byAge)
        {
            if (count == 0)
            {
                break;
            }

            if (file != keep)
            {
                Forget(file);
                Interlocked.Increment(ref _evictions);
                count--;
            }
        }
    }

    // Under _lock. The handle's descriptor closes now, or when the last operation or send using it releases it.
    private void Forget(CachedFileHandle file)
    {
        var slot = file.OpenSlot;
        if (slot >= 0)
        {
            var last = _open[^1];
            _open[slot] = last;
            last.OpenSlot = slot;
            _open.RemoveAt(_open.Count - 1);
            file.OpenSlot = -1;
        }

        file.TakeHandle()?.Dispose();
    }
}
