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

    /// <summary>Start of the appended bytes not yet handed to <see cref="Writeback"/>; -1 once it proved unavailable.</summary>
    private long _writebackFrom;

    public FileLogFile(string path)
    {
        // FileShare.Delete: a segment may be deleted by retention while a reader still holds its handle.
        _handle = File.OpenHandle(
            path,
            FileMode.OpenOrCreate,
            FileAccess.ReadWrite,
            FileShare.ReadWrite | FileShare.Delete);
        _length = RandomAccess.GetLength(_handle);
        _writebackFrom = _length;
    }

    public long Length => Volatile.Read(ref _length);

    public void Append(ReadOnlySpan<byte> data)
    {
        var position = _length;
        RandomAccess.Write(_handle, data, position);
        var end = position + data.Length;
        Volatile.Write(ref _length, end);
        if (_writebackFrom >= 0 && end - _writebackFrom >= Writeback.IntervalBytes)
        {
            _writebackFrom = Writeback.Start(_handle, _writebackFrom, end - _writebackFrom) ? end : -1;
        }
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

    public void Truncate(long length)
    {
        RandomAccess.SetLength(_handle, length);
        Volatile.Write(ref _length, length);
        _writebackFrom = _writebackFrom < 0 ? -1 : Math.Min(_writebackFrom, length);
    }

    public void Flush() => RandomAccess.FlushToDisk(_handle);

    public void Dispose() => _handle.Dispose();
}
