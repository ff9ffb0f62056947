using System.Runtime.InteropServices;

namespace Tributary.LoadRunner;

/// <summary>
/// Sleeps until a point of <see cref="MonotonicClock"/> with the kernel's timer resolution (Linux
/// <c>clock_nanosleep</c>, absolute time on CLOCK_MONOTONIC, the clock Stopwatch reads), not in whole milliseconds
/// as <see cref="Thread.Sleep(int)"/> does. Elsewhere it sleeps 1 ms.
/// </summary>
internal static partial class PreciseSleep
{
    /// <summary>Shortest sleep asked for, in nanoseconds: below this the wake-up costs more than it saves.</summary>
    public const long NanosMin = 20_000;

    /// <summary>Longest single sleep, in nanoseconds, so the sender still checks its deadline and stop flag.</summary>
    public const long NanosMax = 1_000_000;

    private const int ClockMonotonic = 1;
    private const int TimerAbsoluteTime = 1;

    public static void Until(long monotonicNanos)
    {
        if (!OperatingSystem.IsLinux() || System.Diagnostics.Stopwatch.Frequency != 1_000_000_000)
        {
            Thread.Sleep(1);
            return;
        }

        var time = new TimeSpec { Seconds = monotonicNanos / 1_000_000_000, Nanoseconds = monotonicNanos % 1_000_000_000 };
        // Returns EINTR when a signal arrives: the caller's loop simply looks at the clock again.
        _ = ClockNanoSleep(ClockMonotonic, TimerAbsoluteTime, in time, IntPtr.Zero);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_nanosleep")]
    private static partial int ClockNanoSleep(int clock, int flags, in TimeSpec request, IntPtr remaining);
}
