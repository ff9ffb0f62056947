namespace Tributary.Storage.Devices;

/// <summary>The real file system.</summary>
/// <param name="cacheDropBehindBytes">
/// For the segment data files it opens (<c>.log</c>; indexes and checkpoints are small and read at random, and keep
/// their pages): how far behind the newest bytes handed for write-out appended bytes are dropped from the
/// page cache once written out (at least 1 MiB); negative (the default) keeps them cached. See
/// <see cref="WritebackSchedule.DropBehind"/>.
/// </param>
/// <param name="cacheDropAfterRead">
/// For the same files: whether appended bytes that every reader of the file has fetched past are dropped from the page
/// cache once written out (a file nobody reads keeps its pages). See <see cref="WritebackSchedule.DropBehind"/>.
/// </param>
/// <param name="openFilesMax">
/// Descriptors the files it opens hold at most, together (<see cref="OpenFileCache"/>): past it the least recently used
/// file is closed and reopened on its next use. Unbounded by default.
/// </param>
public sealed class FileLogDevice(long cacheDropBehindBytes = -1, bool cacheDropAfterRead = false, int openFilesMax = int.MaxValue) : ILogDevice
{
    private readonly OpenFileCache _openFiles = openFilesMax == int.MaxValue ? OpenFileCache.Unbounded : new OpenFileCache(openFilesMax);

    public static FileLogDevice Instance { get; } = new();

    /// <summary>Descriptors its files may hold at once.</summary>
    public int OpenFilesMax => _openFiles.OpenFilesMax;

    /// <summary>Descriptors its files hold now.</summary>
    public int OpenFiles => _openFiles.OpenFiles;

    public bool DirectoryExists(string path) => Directory.Exists(path);

    public void CreateDirectory(string path) => PrivateFiles.CreateDirectory(path);

    public void DeleteDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }

    // rename(2): descriptors open on files inside stay valid; the cache's paths of those files go stale, which is
    // why a log is closed before its directory moves.
    public void MoveDirectory(string sourcePath, string destinationPath) => Directory.Move(sourcePath, destinationPath);

    public IReadOnlyList<string> ListDirectories(string path) =>
        Directory.Exists(path) ? Directory.GetDirectories(path).Select(Path.GetFileName).OfType<string>().ToArray() : [];

    public IReadOnlyList<string> ListFiles(string path) =>
        Directory.Exists(path) ? Directory.GetFiles(path).Select(Path.GetFileName).OfType<string>().ToArray() : [];

    public bool FileExists(string path) => File.Exists(path);

    public ILogFile OpenFile(string path)
    {
        var segmentData = path.EndsWith(Segments.LogSegment.LogSuffix, StringComparison.Ordinal);
        return new FileLogFile(
            path,
            cacheDropBehindBytes: segmentData ? cacheDropBehindBytes : -1,
            cacheDropAfterRead: segmentData && cacheDropAfterRead,
            cache: _openFiles);
    }

    public void DeleteFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (DirectoryNotFoundException)
        {
            // The contract: no file, nothing to do (a segment waiting out its delay whose partition directory went first).
        }
    }

    // rename(2) replaces the destination atomically on POSIX file systems. An open file moves along (a cleaned segment
    // taking its final name), so its reopen after an eviction finds it.
    public void ReplaceFile(string sourcePath, string destinationPath)
    {
        if (_openFiles.TryFind(sourcePath, out var file))
        {
            file.Rename(destinationPath, () => File.Move(sourcePath, destinationPath, overwrite: true));
        }
        else
        {
            File.Move(sourcePath, destinationPath, overwrite: true);
        }
    }
}
