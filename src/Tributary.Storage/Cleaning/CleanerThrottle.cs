using System.Diagnostics;

namespace Tributary.Storage.Cleaning;

/// <summary>
/// <c>log.cleaner.io.max.bytes.per.second</c>, shared by every cleaner thread as Kafka's throttler is: a thread that
/// has read or written more than the rate allows since the window began sleeps until it is back under it. The window
/// restarts every second, so an idle spell earns no burst.
/// </summary>
internal sealed class CleanerThrottle(double bytesPerSecondMax)
{
    private static readonly TimeSpan WindowMax = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private long _windowStart = Stopwatch.GetTimestamp();
    private double _windowBytes;

    public bool IsUnlimited => bytesPerSecondMax >= double.MaxValue;

    public void Acquire(int bytes)
    {
        if (IsUnlimited)
        {
            return;
        }

        TimeSpan wait;
        lock (_lock)
        {
            var elapsed = Stopwatch.GetElapsedTime(_windowStart);
            if (elapsed > WindowMax)
            {
                _windowStart = Stopwatch.GetTimestamp();
                _windowBytes = 0;
                elapsed = TimeSpan.Zero;
            }

            _windowBytes += bytes;
            wait = TimeSpan.FromSeconds(_windowBytes / bytesPerSecondMax) - elapsed;
        }

        if (wait > TimeSpan.Zero)
        {
            Thread.Sleep(wait);
        }
    }
}
