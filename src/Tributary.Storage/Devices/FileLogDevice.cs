namespace Tributary.Storage.Devices;

/// <summary>The real file system.</summary>
public sealed class FileLogDevice : ILogDevice
{
    public static FileLogDevice Instance { get; } = new();

    public bool DirectoryExists(string path) => Directory.Exists(path);

    public void CreateDirectory(string path) => Directory.CreateDirectory(path);

    public void DeleteDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }

    public IReadOnlyList<string> ListDirectories(string path) =>
        Directory.Exists(path) ? Directory.GetDirectories(path).Select(Path.GetFileName).OfType<string>().ToArray() : [];

    public IReadOnlyList<string> ListFiles(string path) =>
        Directory.Exists(path) ? Directory.GetFiles(path).Select(Path.GetFileName).OfType<string>().ToArray() : [];

    public bool FileExists(string path) => File.Exists(path);

    public ILogFile OpenFile(string path) => new FileLogFile(path);

    public void DeleteFile(string path) => File.Delete(path);

    // rename(2) replaces the destination atomically on POSIX file systems.
    public void ReplaceFile(string sourcePath, string destinationPath) => File.Move(sourcePath, destinationPath, overwrite: true);
}
