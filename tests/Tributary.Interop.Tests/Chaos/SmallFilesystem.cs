using System.Globalization;
using Tributary.Interop.Tests.Support;

namespace Tributary.Interop.Tests.Chaos;

/// <summary>
/// A tmpfs of a fixed size mounted on a directory, so a broker's data directory can run out of space for real
/// (ENOSPC from the kernel, not from a wrapped device). Needs root, as test.sh provides: without it the mount fails
/// and the test fails saying so. <see cref="Fill"/> takes all its free space with a filler file, <see cref="Free"/>
/// gives it back; dispose unmounts.
/// </summary>
public sealed class SmallFilesystem : IAsyncDisposable
{
    private const string FillerName = "zz-filler";
    private const int FillChunkBytes = 64 * 1024;
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);

    private SmallFilesystem(string path) => Path = path;

    public string Path { get; }

    private string FillerPath => System.IO.Path.Combine(Path, FillerName);

    public static async Task<SmallFilesystem> MountAsync(string path, long sizeBytes)
    {
        var size = sizeBytes.ToString(CultureInfo.InvariantCulture);
        var result = await ProcessRunner.RunAsync("mount", ["-t", "tmpfs", "-o", $"size={size},mode=0700", "tmpfs", path], CommandTimeout);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"this test mounts a tmpfs of {size} bytes on {path} and must run as root (test.sh does): mount failed: {result.Describe()}");
        }

        return new SmallFilesystem(path);
    }

    /// <summary>Writes a filler file until the file system refuses more (ENOSPC); returns the bytes it took.</summary>
    public long Fill()
    {
        using var filler = new FileStream(FillerPath, FileMode.Append, FileAccess.Write, FileShare.None, 1, FileOptions.None);
        var chunk = new byte[FillChunkBytes];
        var written = 0L;
        for (var size = FillChunkBytes; size > 0; size /= 2)
        {
            while (true)
            {
                try
                {
                    filler.Write(chunk, 0, size);
                    filler.Flush();
                    written += size;
                }
                catch (IOException)
                {
                    filler.SetLength(written);
                    break;
                }
            }
        }

        return written;
    }

    public void Free() => File.Delete(FillerPath);

    public async ValueTask DisposeAsync()
    {
        var result = await ProcessRunner.RunAsync("umount", ["-l", Path], CommandTimeout);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"umount {Path}: {result.Describe()}");
        }
    }
}
