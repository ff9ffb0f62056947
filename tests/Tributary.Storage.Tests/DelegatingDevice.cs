using Tributary.Storage.Devices;

namespace Tributary.Storage.Tests;

/// <summary>A device that passes everything to <paramref name="inner"/>; tests override what they watch or slow down.</summary>
internal abstract class DelegatingDevice(ILogDevice inner) : ILogDevice
{
    public bool DirectoryExists(string path) => inner.DirectoryExists(path);

    public void CreateDirectory(string path) => inner.CreateDirectory(path);

    public void DeleteDirectory(string path) => inner.DeleteDirectory(path);

    public void MoveDirectory(string sourcePath, string destinationPath) => inner.MoveDirectory(sourcePath, destinationPath);

    public IReadOnlyList<string> ListDirectories(string path) => inner.ListDirectories(path);

    public IReadOnlyList<string> ListFiles(string path) => inner.ListFiles(path);

    public bool FileExists(string path) => inner.FileExists(path);

    public virtual ILogFile OpenFile(string path) => inner.OpenFile(path);

    public virtual void DeleteFile(string path) => inner.DeleteFile(path);

    public virtual void ReplaceFile(string sourcePath, string destinationPath) => inner.ReplaceFile(sourcePath, destinationPath);
}

/// <summary>A file that passes everything to <paramref name="inner"/>; tests override what they watch or slow down.</summary>
internal abstract class DelegatingFile(ILogFile inner) : ILogFile
{
    public long Length => inner.Length;

    public virtual void Append(ReadOnlySpan<byte> data) => inner.Append(data);

    public virtual int ReadAt(long position, Span<byte> destination) => inner.ReadAt(position, destination);

    public virtual void OnRead(string reader, long position) => inner.OnRead(reader, position);

    public virtual void Truncate(long length) => inner.Truncate(length);

    public void Trim() => inner.Trim();

    public virtual void Flush() => inner.Flush();

    public void Dispose() => inner.Dispose();
}
