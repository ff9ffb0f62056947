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

    public FileLogFile(string path, long writebackLagMs = Writeback.LagMs)
    {
        // FileShare.Delete: a segment may be deleted by retention while a reader still holds its handle.
        _handle = File.OpenHandle(
            path,
            FileMode.OpenOrCreate,
            FileAccess.ReadWrite,
            FileShare.ReadWrite | FileShare.Delete);
        _length = RandomAccess.GetLength(_handle);
        _writeback = new WritebackSchedule(_handle, _length, writebackLagMs, static () => Environment.TickCount64, WritebackWorker.Shared);
    }

    public long Length => Volatile.Read(ref _length);

    public void Append(ReadOnlySpan<byte> data)
    {
        var position = _length;
        RandomAccess.Write(_handle, data, position);
        var end = position + data.Length;
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

    public void Truncate(long length)
    {
        RandomAccess.SetLength(_handle, length);
        Volatile.Write(ref _length, length);
        _writeback.OnTruncated(length);
    }

    public void Flush() => RandomAccess.FlushToDisk(_handle);

    public void Dispose() => _handle.Dispose();
}
