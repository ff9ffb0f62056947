using Tributary.Storage.Devices;

namespace Tributary.Broker.Tests;

/// <summary>
/// A device over <paramref name="inner"/> that fails like a full disk or a process out of descriptors: creating a
/// directory or opening a file whose path <see cref="Refuses"/> throws "No space left on device", and opening one more
/// file than <see cref="OpenFilesMax"/> throws "Too many open files".
/// </summary>
internal sealed class FaultyDevice(ILogDevice inner) : ILogDevice
{
    private int _openFiles;

    public Func<string, bool> Refuses { get; set; } = _ => false;

    public int OpenFilesMax { get; set; } = int.MaxValue;

    public int OpenFiles => Volatile.Read(ref _openFiles);

    public bool DirectoryExists(string path) => inner.DirectoryExists(path);

    public void CreateDirectory(string path)
    {
        Check(path);
        inner.CreateDirectory(path);
    }

    public void DeleteDirectory(string path) => inner.DeleteDirectory(path);

    public void MoveDirectory(string sourcePath, string destinationPath) => inner.MoveDirectory(sourcePath, destinationPath);

    public IReadOnlyList<string> ListDirectories(string path) => inner.ListDirectories(path);

    public IReadOnlyList<string> ListFiles(string path) => inner.ListFiles(path);

    public bool FileExists(string path) => inner.FileExists(path);

    public ILogFile OpenFile(string path)
    {
        Check(path);
        if (Interlocked.Increment(ref _openFiles) > OpenFilesMax)
        {
            Interlocked.Decrement(ref _openFiles);
            throw new IOException($"Too many open files : '{path}'");
        }

        try
        {
            return new CountedFile(inner.OpenFile(path), this);
        }
        catch
        {
            Interlocked.Decrement(ref _openFiles);
            throw;
        }
    }

    public void DeleteFile(string path) => inner.DeleteFile(path);

    public void ReplaceFile(string sourcePath, string destinationPath) => inner.ReplaceFile(sourcePath, destinationPath);

    private void Check(string path)
    {
        if (Refuses(path))
        {
            throw new IOException($"No space left on device : '{path}'");
        }
    }

    private sealed class CountedFile(ILogFile file, FaultyDevice device) : ILogFile
    {
        private int _disposed;

        public long Length => file.Length;

        public void Append(ReadOnlySpan<byte> data) => file.Append(data);

        public int ReadAt(long position, Span<byte> destination) => file.ReadAt(position, destination);

        public void Truncate(long length) => file.Truncate(length);

        public void Trim() => file.Trim();

        public void Flush() => file.Flush();

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref device._openFiles);
                file.Dispose();
            }
        }
    }
}
