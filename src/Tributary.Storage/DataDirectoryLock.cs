namespace Tributary.Storage;

/// <summary>
/// Kafka's <c>.lock</c> file: held exclusively (an advisory lock, as .NET takes for <see cref="FileShare.None"/> on
/// Unix) for as long as a broker has the data directory open, so a second broker pointed at the same directory
/// fails at start instead of interleaving writes with the first.
/// </summary>
public sealed class DataDirectoryLock : IDisposable
{
    public const string FileName = ".lock";

    private readonly FileStream _file;

    private DataDirectoryLock(FileStream file) => _file = file;

    /// <summary>Takes the lock, or throws <see cref="DataDirectoryInUseException"/> when another process holds it.</summary>
    public static DataDirectoryLock Acquire(string directory)
    {
        var path = Path.Combine(directory, FileName);
        try
        {
            return new DataDirectoryLock(new FileStream(path, Devices.PrivateFiles.StreamOptions(FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None)));
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new DataDirectoryInUseException($"data directory {directory} is in use by another process ({path} is locked)", e);
        }
    }

    public void Dispose() => _file.Dispose();
}

/// <summary>Another process (a broker already running) holds the data directory's lock.</summary>
public sealed class DataDirectoryInUseException(string message, Exception inner) : IOException(message, inner);
