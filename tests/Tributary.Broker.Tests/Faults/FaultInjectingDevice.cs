using Tributary.Storage.Devices;

namespace Tributary.Broker.Tests.Faults;

/// <summary>
/// A device over <paramref name="inner"/> that fails at seeded random points the way the file system does: each call
/// that can fail does so with probability <see cref="FailureRate"/>, throwing the <see cref="IOException"/> .NET raises
/// for ENOSPC, EIO or EMFILE (the errno as HResult, its text as message). A failed append may first write part of its
/// bytes, as a short write before ENOSPC does; the file's length stays where it was, as a positional writer's does.
/// After <see cref="Crash"/> every call throws, so a broker "killed" while holding it writes nothing more.
/// </summary>
internal sealed class FaultInjectingDevice(ILogDevice inner, Random random) : ILogDevice
{
    private const int Enospc = 28;
    private const int Eio = 5;
    private const int Emfile = 24;

    private readonly Lock _lock = new();
    private volatile bool _crashed;

    /// <summary>Chance that one call fails; 0 turns faults off.</summary>
    public double FailureRate { get; set; }

    /// <summary>Calls that fail every time, by operation ("append", "fsync", "open", "rmdir", …) and path.</summary>
    public Func<string, string, bool>? Refuses { get; set; }

    public int FaultsInjected { get; private set; }

    /// <summary>Told of each fault injected (for the run's trace).</summary>
    public Action<string>? Injected { get; set; }

    /// <summary>The process died: nothing more reaches the disk through this device.</summary>
    public void Crash() => _crashed = true;

    public bool DirectoryExists(string path) => inner.DirectoryExists(path);

    public void CreateDirectory(string path)
    {
        MaybeFail("mkdir", path, Enospc, Eio);
        inner.CreateDirectory(path);
    }

    public void DeleteDirectory(string path)
    {
        MaybeFail("rmdir", path, Eio);
        inner.DeleteDirectory(path);
    }

    public void MoveDirectory(string sourcePath, string destinationPath)
    {
        MaybeFail("rename", destinationPath, Eio);
        inner.MoveDirectory(sourcePath, destinationPath);
    }

    public IReadOnlyList<string> ListDirectories(string path)
    {
        MaybeFail("list", path, Eio);
        return inner.ListDirectories(path);
    }

    public IReadOnlyList<string> ListFiles(string path)
    {
        MaybeFail("list", path, Eio);
        return inner.ListFiles(path);
    }

    public bool FileExists(string path) => inner.FileExists(path);

    public ILogFile OpenFile(string path)
    {
        // Creating a file needs an inode and a directory entry (ENOSPC); any open needs a descriptor (EMFILE).
        if (inner.FileExists(path))
        {
            MaybeFail("open", path, Emfile, Eio);
        }
        else
        {
            MaybeFail("open", path, Emfile, Enospc, Eio);
        }

        return new File(inner.OpenFile(path), path, this);
    }

    public void DeleteFile(string path)
    {
        MaybeFail("unlink", path, Eio);
        inner.DeleteFile(path);
    }

    public void ReplaceFile(string sourcePath, string destinationPath)
    {
        MaybeFail("rename", destinationPath, Enospc, Eio);
        inner.ReplaceFile(sourcePath, destinationPath);
    }

    /// <summary>Throws one of <paramref name="errnos"/> at the seeded rate.</summary>
    private void MaybeFail(string operation, string path, params int[] errnos)
    {
        if (Fails(operation, path))
        {
            throw Fault(operation, path, errnos);
        }
    }

    private bool Fails(string operation, string path)
    {
        if (_crashed)
        {
            throw new IOException("the broker process was killed");
        }

        if (Refuses?.Invoke(operation, path) is true)
        {
            return true;
        }

        lock (_lock)
        {
            if (FailureRate <= 0 || random.NextDouble() >= FailureRate)
            {
                return false;
            }

            FaultsInjected++;
            return true;
        }
    }

    private IOException Fault(string operation, string path, int[] errnos)
    {
        int errno;
        lock (_lock)
        {
            errno = errnos[random.Next(errnos.Length)];
        }

        var text = errno switch
        {
            Enospc => "No space left on device",
            Emfile => "Too many open files",
            _ => "Input/output error",
        };
        Injected?.Invoke($"  {operation}: {text}: {Path.GetFileName(Path.GetDirectoryName(path))}/{Path.GetFileName(path)}");
        return new IOException($"{text} : '{path}'", errno);
    }

    private int Next(int maxExclusive)
    {
        lock (_lock)
        {
            return random.Next(maxExclusive);
        }
    }

    /// <summary>
    /// A file written at its own length (as pwrite at the position the log keeps): bytes a torn append left past it
    /// are overwritten by the next append, and stay on the disk for recovery to find if nothing follows.
    /// </summary>
    private sealed class File(ILogFile file, string path, FaultInjectingDevice device) : ILogFile
    {
        private long _length = file.Length;

        public long Length => Volatile.Read(ref _length);

        public void Append(ReadOnlySpan<byte> data)
        {
            var fails = device.Fails("append", path);
            WriteAt(_length, fails ? data[..device.Next(data.Length + 1)] : data);
            if (fails)
            {
                throw device.Fault("append", path, [Enospc, Eio]);
            }

            Volatile.Write(ref _length, _length + data.Length);
        }

        public int ReadAt(long position, Span<byte> destination)
        {
            device.MaybeFail("read", path, Eio);
            return file.ReadAt(position, destination);
        }

        public void Truncate(long length)
        {
            device.MaybeFail("truncate", path, Eio);
            file.Truncate(length);
            Volatile.Write(ref _length, length);
        }

        public void Trim()
        {
        }

        public void Flush()
        {
            device.MaybeFail("fsync", path, Eio, Enospc);
            file.Flush();
        }

        public void Dispose() => file.Dispose();

        private void WriteAt(long position, ReadOnlySpan<byte> data)
        {
            if (file.Length == position)
            {
                file.Append(data);
                return;
            }

            // Bytes of a torn append lie past our length: keep those beyond this write, as an overwrite would.
            var beyond = new byte[Math.Max(0, file.Length - position - data.Length)];
            var read = beyond.Length == 0 ? 0 : file.ReadAt(position + data.Length, beyond);
            file.Truncate(position);
            file.Append(data);
            file.Append(beyond.AsSpan(0, read));
        }
    }
}
