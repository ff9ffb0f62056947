using Microsoft.Win32.SafeHandles;

namespace Tributary.Storage.Devices;

/// <summary>
/// A file read and written only with positional I/O (pread/pwrite through <see cref="RandomAccess"/>), so there is
/// no shared file position: readers never block, and never disturb, the appender. Its descriptor is held through an
/// <see cref="OpenFileCache"/>: closed when the cache needs room for others, reopened by the next use. The length,
/// write-out schedule and reservation are kept here, so a reopen changes nothing but the descriptor.
/// </summary>
internal sealed class FileLogFile : ILogFile
{
    private readonly CachedFileHandle _file;
    private long _length;

    private readonly WritebackSchedule _writeback;

    // End of the blocks reserved by Preallocation (at least Length); the appender's only.
    private long _reserved;
    private bool _preallocationUnavailable = !OperatingSystem.IsLinux();

    /// <param name="path">The file, created when missing.</param>
    /// <param name="cache">Holds its descriptor; <see cref="OpenFileCache.Unbounded"/> when null.</param>
    /// <param name="writebackLagMs">Age at which appended bytes are handed for write-out (<see cref="Writeback"/>).</param>
    /// <param name="cacheDropBehindBytes">
    /// Negative: appended bytes stay in the page cache until the kernel evicts them. Otherwise they are dropped from it
    /// after their write-out, once they are this many bytes (at least one write-out interval) behind the newest bytes
    /// handed for write-out (<see cref="WritebackSchedule.DropBehind"/>).
    /// </param>
    /// <param name="cacheDropAfterRead">
    /// Whether appended bytes every reader has fetched past are dropped from the page cache after their write-out
    /// (<see cref="WritebackSchedule.DropBehind"/>).
    /// </param>
    public FileLogFile(string path, long writebackLagMs = Writeback.LagMs, long cacheDropBehindBytes = -1, bool cacheDropAfterRead = false, OpenFileCache? cache = null)
    {
        // FileShare.Delete: a segment may be deleted by retention while a reader still holds its handle.
        var handle = File.OpenHandle(
            path,
            FileMode.OpenOrCreate,
            FileAccess.ReadWrite,
            FileShare.ReadWrite | FileShare.Delete);
        try
        {
            _length = RandomAccess.GetLength(handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        // File.OpenHandle takes no creation mode: a new (empty) file is made private before anything is written to it.
        // One we created is ours to change; an existing empty file we may not change is opened as it is.
        if (_length == 0 && !OperatingSystem.IsWindows())
        {
            try
            {
                File.SetUnixFileMode(handle, PrivateFiles.FileMode);
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        _reserved = _length;
        _file = (cache ?? OpenFileCache.Unbounded).Add(path, handle);

        // Write-out is for bytes just appended, so through a file open now; an evicted file's bytes are the kernel's.
        var file = _file;
        _writeback = new WritebackSchedule(() => file.OpenHandle, _length, writebackLagMs, static () => Environment.TickCount64, WritebackWorker.Shared, cacheDropBehindBytes, cacheDropAfterRead);
    }

    public long Length => Volatile.Read(ref _length);

    /// <summary>The handle, opened if the cache had closed it; null once the file is closed or cannot be reopened.</summary>
    public SafeFileHandle? Handle
    {
        get
        {
            try
            {
                // The caller takes its own reference (a socket's send) or falls back to reading when it finds it closed.
                using var lease = _file.Lease();
                return lease.Handle;
            }
            catch (Exception e) when (e is ObjectDisposedException or IOException)
            {
                return null;
            }
        }
    }

    /// <summary>The handle if the file holds a descriptor now (null when the cache closed it), without opening it.</summary>
    internal SafeFileHandle? OpenHandle => _file.OpenHandle;

    public void Append(ReadOnlySpan<byte> data)
    {
        var position = _length;
        var end = position + data.Length;
        using (var lease = _file.Lease())
        {
            if (end > _reserved && position >= Preallocation.FileBytesMin && !_preallocationUnavailable)
            {
                Reserve(lease.Handle, position, end);
            }

            RandomAccess.Write(lease.Handle, data, position);
        }

        Volatile.Write(ref _length, end);
        _writeback.OnAppended(end);
    }

    public int ReadAt(long position, Span<byte> destination)
    {
        using var lease = _file.Lease();
        var total = 0;
        while (total < destination.Length)
        {
            var read = RandomAccess.Read(lease.Handle, destination[total..], position + total);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    public void OnRead(string reader, long position) => _writeback.OnRead(reader, position);

    public void Truncate(long length)
    {
        using (var lease = _file.Lease())
        {
            RandomAccess.SetLength(lease.Handle, length);
        }

        Volatile.Write(ref _length, length);
        _reserved = length; // cutting the size also frees every block past it
        _writeback.OnTruncated(length);
    }

    public void Trim()
    {
        if (_reserved <= _length)
        {
            return;
        }

        try
        {
            // Setting the size it already has frees the reserved blocks past it.
            using var lease = _file.Lease();
            RandomAccess.SetLength(lease.Handle, _length);
            _reserved = _length;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // Only disk space past the data stays reserved, until a later trim; the data is untouched.
        }
    }

    public void Flush()
    {
        using var lease = _file.Lease();
        RandomAccess.FlushToDisk(lease.Handle);
    }

    public void Dispose()
    {
        Trim();
        _file.Dispose();
    }

    private void Reserve(SafeFileHandle handle, long position, long end)
    {
        var to = Math.Max(end, position + Preallocation.StepFor(position));
        if (Preallocation.Reserve(handle, _reserved, to - _reserved))
        {
            _reserved = to;
        }
        else
        {
            _preallocationUnavailable = true;
        }
    }
}
