using Tributary.Storage.Devices;

namespace Tributary.Storage.Tests;

/// <summary>
/// A memory device whose files record what they are told of their readers (<see cref="ILogFile.OnRead"/>) and count
/// their reads.
/// </summary>
internal sealed class RecordingDevice : ILogDevice
{
    private readonly MemoryLogDevice _inner = new();
    private int _readAts;

    public List<(string Path, string Reader, long Position)> Notes { get; } = [];

    /// <summary>Reads made through any of the device's files.</summary>
    public int ReadAts => Volatile.Read(ref _readAts);

    public bool DirectoryExists(string path) => _inner.DirectoryExists(path);

    public void CreateDirectory(string path) => _inner.CreateDirectory(path);

    public void DeleteDirectory(string path) => _inner.DeleteDirectory(path);

    public IReadOnlyList<string> ListDirectories(string path) => _inner.ListDirectories(path);

    public IReadOnlyList<string> ListFiles(string path) => _inner.ListFiles(path);

    public bool FileExists(string path) => _inner.FileExists(path);

    public ILogFile OpenFile(string path) => new RecordingFile(
        _inner.OpenFile(path),
        (reader, position) => Notes.Add((path, reader, position)),
        () => Interlocked.Increment(ref _readAts));

    public void DeleteFile(string path) => _inner.DeleteFile(path);

    public void ReplaceFile(string sourcePath, string destinationPath) => _inner.ReplaceFile(sourcePath, destinationPath);
}

internal sealed class RecordingFile(ILogFile inner, Action<string, long> onRead, Action onReadAt) : ILogFile
{
    public long Length => inner.Length;

    public void Append(ReadOnlySpan<byte> data) => inner.Append(data);

    public int ReadAt(long position, Span<byte> destination)
    {
        onReadAt();
        return inner.ReadAt(position, destination);
    }

    public void OnRead(string reader, long position) => onRead(reader, position);

    public void Truncate(long length) => inner.Truncate(length);

    public void Trim() => inner.Trim();

    public void Flush() => inner.Flush();

    public void Dispose() => inner.Dispose();
}
