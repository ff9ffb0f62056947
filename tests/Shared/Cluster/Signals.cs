using System.Runtime.InteropServices;

namespace Tributary.Tests.Shared.Cluster;

/// <summary>POSIX signals to one process by its id, for fault tests: pause (a zombie), resume, kill -9.</summary>
public static partial class Signals
{
    public const int Kill = 9;
    public const int Continue = 18;
    public const int Stop = 19;

    public static void Send(int processId, int signal)
    {
        if (SendSignal(processId, signal) != 0)
        {
            throw new InvalidOperationException($"kill({processId}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
