namespace Tributary.Storage.Devices;

/// <summary>
/// The only way storage touches files. Small on purpose: a simulation or a fault-injecting device
/// only has to implement these few operations to run the real log on top of them.
/// Paths are absolute-style strings joined with <see cref="Path.Combine(string, string)"/>.
/// </summary>
public interface ILogDevice
{
    bool DirectoryExists(string path);

    void CreateDirectory(string path);

    /// <summary>Removes the directory and everything in it. No-op when it does not exist.</summary>
    void DeleteDirectory(string path);

    /// <summary>
    /// Renames a directory and everything in it in one step (a deleted partition's directory waiting out
    /// <c>file.delete.delay.ms</c>); the destination must not exist.
    /// </summary>
    void MoveDirectory(string sourcePath, string destinationPath);

    /// <summary>Names (not paths) of the directories directly inside <paramref name="path"/>.</summary>
    IReadOnlyList<string> ListDirectories(string path);

    /// <summary>Names (not paths) of the files directly inside <paramref name="path"/>.</summary>
    IReadOnlyList<string> ListFiles(string path);

    bool FileExists(string path);

    /// <summary>Opens a file for positional reads and appends, creating it empty when missing.</summary>
    ILogFile OpenFile(string path);

    /// <summary>No-op when the file (or its directory) does not exist.</summary>
    void DeleteFile(string path);

    /// <summary>
    /// Moves <paramref name="sourcePath"/> over <paramref name="destinationPath"/> in one step, so a reader
    /// sees either the old or the new file, never a half-written one (checkpoints use temp + rename).
    /// </summary>
    void ReplaceFile(string sourcePath, string destinationPath);
}
