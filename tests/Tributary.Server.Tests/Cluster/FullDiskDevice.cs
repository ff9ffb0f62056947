using Microsoft.Win32.SafeHandles;
using Tributary.Storage.Devices;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// The real file system, except that while <see cref="FullTopic"/> is set the partition directories of that topic
/// (<c>topic-N</c>) are on a full disk: appends and new files there throw the <see cref="IOException"/> .NET raises for
/// ENOSPC, as a log directory on a filled volume does. Everything else is written as usual.
/// </summary>
internal sealed class FullDiskDevice(ILogDevice inner) : ILogDevice
{
    private const int Enospc = 28;

    private int _refused;
    private volatile string? _fullTopic;

    public string? FullTopic
    {
        get => _fullTopic;
        set => _fullTopic = value;
    }

    /// <summary>Writes refused so far: a test that expects a full disk checks that it was hit.</summary>
    public int Refused => Volatile.Read(ref _refused);

    public bool DirectoryExists(string path) => inner.DirectoryExists(path);

    public void CreateDirectory(string path) => inner.CreateDirectory(path);

    public void DeleteDirectory(string path) => inner.DeleteDirectory(path);

    public void MoveDirectory(string sourcePath, string destinationPath) => inner.MoveDirectory(sourcePath, destinationPath);

    public IReadOnlyList<string> ListDirectories(string path) => inner.ListDirectories(path);

    public IReadOnlyList<string> ListFiles(string path) => inner.ListFiles(path);

    public bool FileExists(string path) => inner.FileExists(path);

    public ILogFile OpenFile(string path)
    {
        if (!inner.FileExists(path))
        {
            ThrowIfFull(path);
        }

        return new File(inner.OpenFile(path), path, this);
    }

    public void DeleteFile(string path) => inner.DeleteFile(path);

    public void ReplaceFile(string sourcePath, string destinationPath) => inner.ReplaceFile(sourcePath, destinationPath);

    private void ThrowIfFull(string path)
    {
        if (_fullTopic is { } topic && Path.GetFileName(Path.GetDirectoryName(path)) is { } directory
            && directory.StartsWith(topic + "-", StringComparison.Ordinal) && int.TryParse(directory.AsSpan(topic.Length + 1), out _))
        {
            Interlocked.Increment(ref _refused);
            throw new IOException("No space left on device : '" + path + "'", Enospc);
        }
    }

    private sealed class File(ILogFile inner, string path, FullDiskDevice device) : ILogFile
    {
        public long Length => inner.Length;

        public SafeFileHandle? Handle => inner.Handle;

        public void Append(ReadOnlySpan<byte> data)
        {
            device.ThrowIfFull(path);
            inner.Append(data);
        }

        public int ReadAt(long position, Span<byte> destination) => inner.ReadAt(position, destination);

        public void OnRead(string reader, long position) => inner.OnRead(reader, position);

        public void Truncate(long length) => inner.Truncate(length);

        public void Trim() => inner.Trim();

        public void Flush() => inner.Flush();

        public void Dispose() => inner.Dispose();
    }
}
