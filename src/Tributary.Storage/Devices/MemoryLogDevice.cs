namespace Tributary.Storage.Devices;

/// <summary>
/// Files kept in memory: for tests and for the embeddable broker's in-memory mode. Contents outlive the handles
/// that opened them (like a real disk), so a log can be closed and reopened, or "crash" and recover, on the same
/// device. <see cref="DiscardUnflushed"/> simulates power loss: every file falls back to its last flushed length.
/// </summary>
public sealed class MemoryLogDevice : ILogDevice
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, MemoryFileData> _files = new(StringComparer.Ordinal);
    private readonly HashSet<string> _directories = new(StringComparer.Ordinal);
    private long _flushCount;

    /// <summary>How many times any file was flushed; lets tests observe the flush policy and group commit.</summary>
    public long FlushCount => Interlocked.Read(ref _flushCount);

    public bool DirectoryExists(string path)
    {
        lock (_lock)
        {
            return _directories.Contains(Normalize(path));
        }
    }

    public void CreateDirectory(string path)
    {
        lock (_lock)
        {
            // Like Directory.CreateDirectory, parents come into existence too.
            for (var current = Normalize(path); !string.IsNullOrEmpty(current); current = Parent(current))
            {
                if (!_directories.Add(current))
                {
                    break;
                }
            }
        }
    }

    public void DeleteDirectory(string path)
    {
        var prefix = Normalize(path) + "/";
        lock (_lock)
        {
            _directories.Remove(Normalize(path));
            _directories.RemoveWhere(d => d.StartsWith(prefix, StringComparison.Ordinal));
            foreach (var file in _files.Keys.Where(f => f.StartsWith(prefix, StringComparison.Ordinal)).ToList())
            {
                _files.Remove(file);
            }
        }
    }

    public void MoveDirectory(string sourcePath, string destinationPath)
    {
        var source = Normalize(sourcePath);
        var destination = Normalize(destinationPath);
        var prefix = source + "/";
        lock (_lock)
        {
            if (!_directories.Contains(source))
            {
                throw new DirectoryNotFoundException($"'{sourcePath}' does not exist");
            }

            if (_directories.Contains(destination) || _files.ContainsKey(destination))
            {
                throw new IOException($"'{destinationPath}' already exists");
            }

            foreach (var directory in _directories.Where(d => d == source || d.StartsWith(prefix, StringComparison.Ordinal)).ToList())
            {
                _directories.Remove(directory);
                _directories.Add(destination + directory[source.Length..]);
            }

            foreach (var file in _files.Where(f => f.Key.StartsWith(prefix, StringComparison.Ordinal)).ToList())
            {
                _files.Remove(file.Key);
                _files[destination + file.Key[source.Length..]] = file.Value;
            }
        }
    }

    public IReadOnlyList<string> ListDirectories(string path)
    {
        var parent = Normalize(path);
        lock (_lock)
        {
            return _directories.Where(d => Parent(d) == parent).Select(Name).ToArray();
        }
    }

    public IReadOnlyList<string> ListFiles(string path)
    {
        var parent = Normalize(path);
        lock (_lock)
        {
            return _files.Keys.Where(f => Parent(f) == parent).Select(Name).ToArray();
        }
    }

    public bool FileExists(string path)
    {
        lock (_lock)
        {
            return _files.ContainsKey(Normalize(path));
        }
    }

    public ILogFile OpenFile(string path)
    {
        var normalized = Normalize(path);
        lock (_lock)
        {
            if (!_directories.Contains(Parent(normalized)))
            {
                throw new DirectoryNotFoundException($"directory of '{path}' does not exist");
            }

            if (!_files.TryGetValue(normalized, out var data))
            {
                data = new MemoryFileData();
                _files.Add(normalized, data);
            }

            return new MemoryLogFile(data, () => Interlocked.Increment(ref _flushCount));
        }
    }

    public void DeleteFile(string path)
    {
        lock (_lock)
        {
            _files.Remove(Normalize(path));
        }
    }

    public void ReplaceFile(string sourcePath, string destinationPath)
    {
        lock (_lock)
        {
            if (!_files.Remove(Normalize(sourcePath), out var data))
            {
                throw new FileNotFoundException($"'{sourcePath}' does not exist");
            }

            _files[Normalize(destinationPath)] = data;
        }
    }

    /// <summary>Simulates power loss: bytes appended since each file's last flush are gone.</summary>
    public void DiscardUnflushed()
    {
        lock (_lock)
        {
            foreach (var data in _files.Values)
            {
                data.DiscardUnflushed();
            }
        }
    }

    /// <summary>Direct access to a file's bytes, for tests that corrupt or inspect them.</summary>
    public byte[] ReadAllBytes(string path)
    {
        lock (_lock)
        {
            return _files[Normalize(path)].ToArray();
        }
    }

    private static string Normalize(string path) => path.Length > 1 ? path.TrimEnd('/') : path;

    private static string Parent(string path) => Path.GetDirectoryName(path) ?? "";

    private static string Name(string path) => Path.GetFileName(path);
}
