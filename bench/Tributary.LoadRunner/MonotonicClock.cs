using System.Diagnostics;

namespace Tributary.LoadRunner;

/// <summary>
/// Nanoseconds of the system's monotonic clock (CLOCK_MONOTONIC on Linux, which is what
/// <see cref="Stopwatch"/> reads there). The same clock for every process on the machine, so a timestamp written
/// into a record by one process can be subtracted from "now" in another.
/// </summary>
internal static class MonotonicClock
{
    private static readonly double NanosPerTick = 1e9 / Stopwatch.Frequency;

    public static long NowNanos() => Stopwatch.Frequency == 1_000_000_000
        ? Stopwatch.GetTimestamp()
        : (long)(Stopwatch.GetTimestamp() * NanosPerTick);
}
