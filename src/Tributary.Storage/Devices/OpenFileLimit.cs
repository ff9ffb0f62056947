using System.Runtime.InteropServices;

namespace Tributary.Storage.Devices;

/// <summary>The process's limit on open descriptors (RLIMIT_NOFILE), and the share of it the log files take by default.</summary>
public static partial class OpenFileLimit
{
    /// <summary>Fewest descriptors the log files are given by default, however low the process's limit.</summary>
    public const int LogFilesMin = 64;

    /// <summary>The soft limit (what <c>ulimit -n</c> shows), or null where it cannot be read (not Linux).</summary>
    public static long? SoftLimit()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            return GetRLimit(RLimitNoFile, out var limit) == 0 ? (long)Math.Min(limit.Current, long.MaxValue) : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Descriptors the log files may hold when the operator sets none: half the soft limit (at least
    /// <see cref="LogFilesMin"/>), so the other half stays for connections, the metadata and the runtime itself.
    /// Without a readable limit, 4,096 (half of a common 8,192).
    /// </summary>
    public static int DefaultLogFilesMax(long? softLimit) =>
        softLimit is { } limit ? (int)Math.Clamp(limit / 2, LogFilesMin, int.MaxValue - 1) : 4096;

    // RLIMIT_NOFILE is 7 on every Linux architecture .NET runs on (x64, arm64, arm).
    private const int RLimitNoFile = 7;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);
}
