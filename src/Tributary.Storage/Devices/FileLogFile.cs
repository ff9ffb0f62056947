using Microsoft.Win32.SafeHandles;

namespace Tributary.Storage.Devices;

/// <summary>
/// A file read and written only with positional I/O (pread/pwrite through <see cref="RandomAccess"/>), so there is
/// no shared file position: readers never block, and never disturb, the appender.
/// </summary>
internal sealed class FileLogFile : ILogFile
{
    private readonly SafeFileHandle _handle;
    private long _length;

    private readonly WritebackSchedule _writeback;

    // End of the blocks reserved by Preallocation (at least Length); the appender's only.
    private long _reserved;
    private bool _preallocationUnavailable = !OperatingSystem.IsLinux();

    /// <param name="path">The file, created when missing.</param>
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
    public FileLogFile(string path, long writebackLagMs = Writeback.LagMs, long cacheDropBehindBytes = -1, bool cacheDropAfterRead = false)
    {
        // FileShare.Delete: a segment may be deleted by retention while a reader still holds its handle.
        _handle = File.OpenHandle(
            path,
            FileMode.OpenOrCreate,
            FileAccess.ReadWrite,
            FileShare.ReadWrite | FileShare.Delete);
        _length = RandomAccess.GetLength(_handle);

        // File.OpenHandle takes no creation mode: a new (empty) file is made private before anything is written to it.
        // One we created is ours to change; an existing empty file we may not change is opened as it is.
        if (_length == 0 && !OperatingSystem.IsWindows())
        {
            try
            {
                File.SetUnixFileMode(_handle, PrivateFiles.FileMode);
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        _reserved = _length;
        _writeback = new WritebackSchedule(_handle, _length, writebackLagMs, static () => Environment.TickCount64, WritebackWorker.Shared, cacheDropBehindBytes, cacheDropAfterRead);
    }

    public long Length => Volatile.Read(ref _length);

    public SafeFileHandle Handle => _handle;

    public void Append(ReadOnlySpan<byte> data)
    {
        var position = _length;
        var end = position + data.Length;
        if (end > _reserved && position >= Preallocation.FileBytesMin && !_preallocationUnavailable)
        {
            Reserve(position, end);
        }

        RandomAccess.Write(_handle, data, position);
        Volatile.Write(ref _length, end);
        _writeback.OnAppended(end);
    }

    public int ReadAt(long position, Span<byte> destination)
    {
        var total = 0;
        while (total < destination.Length)
        {
            var read = RandomAccess.Read(_handle, destination[total..], position + total);
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
        RandomAccess.SetLength(_handle, length);
        Volatile.Write(ref _length, length);
        _reserved = length; // cutting the size also frees every block past it
        _writeback.OnTruncated(length);
    }

    public void Trim()
    {
        if (_reserved <= _length || _handle.IsClosed)
        {
            return;
        }

        try
        {
            // Setting the size it already has frees the reserved blocks past it.
            RandomAccess.SetLength(_handle, _length);
            _reserved = _length;
        }
        catch (IOException)
        {
            // Only disk space past the data stays reserved, until a later trim; the data is untouched.
        }
    }

    public void Flush() => RandomAccess.FlushToDisk(_handle);

    public void Dispose()
    {
        Trim();
        _handle.Dispose();
    }

    private void Reserve(long position, long end)
    {
        var to = Math.Max(end, position + Preallocation.StepFor(position));
        if (Preallocation.Reserve(_handle, _reserved, to - _reserved))
        {
            _reserved = to;
        }
        else
        {
            _preallocationUnavailable = true;
        }
    }
}
