namespace Tributary.Broker.Quotas;

/// <summary>
/// Kafka's quota rate (a Rate over a SampledStat): values are summed into <c>quota.window.num</c> samples of
/// <c>quota.window.size.seconds</c> each; the rate is their total over the time they span, counted as at least
/// samples − 1 whole windows, so a client's first request is measured over a full window rather than an instant.
/// Samples older than all the windows together no longer count. Not thread-safe: a sensor locks around it.
/// </summary>
public sealed class WindowedRate(int samples, long windowMs)
{
    private readonly long[] _starts = new long[samples];
    private readonly double[] _values = new double[samples];
    private int _used;
    private int _current;

    public void Record(double value, long nowMs)
    {
        if (_used == 0)
        {
            Start(0, nowMs);
            _used = 1;
        }
        else if (nowMs - _starts[_current] >= windowMs)
        {
            // The next sample: a fresh slot while there are fewer than the window count, else the oldest one again.
            _current = (_current + 1) % samples;
            _used = Math.Max(_used, _current + 1);
            Start(_current, nowMs);
        }

        _values[_current] += value;
    }

    /// <summary>The rate per second at <paramref name="nowMs"/>.</summary>
    public double Measure(long nowMs)
    {
        var windowSizeMs = WindowSizeMs(nowMs);
        var total = 0.0;
        for (var i = 0; i < _used; i++)
        {
            total += _values[i];
        }

        return total / (windowSizeMs / 1000.0);
    }

    /// <summary>The span the rate is measured over: since the oldest sample, at least samples − 1 whole windows.</summary>
    public long WindowSizeMs(long nowMs)
    {
        Purge(nowMs);
        var oldest = nowMs;
        for (var i = 0; i < _used; i++)
        {
            oldest = Math.Min(oldest, _starts[i]);
        }

        var elapsedMs = nowMs - oldest;
        var fullWindows = elapsedMs / windowMs;
        var fullWindowsMin = samples - 1;
        return fullWindows < fullWindowsMin ? elapsedMs + ((fullWindowsMin - fullWindows) * windowMs) : elapsedMs;
    }

    /// <summary>
    /// How long the client must wait, in milliseconds, for its rate to fall back to <paramref name="quota"/> if it sent
    /// nothing more (Kafka's QuotaUtils.throttleTime): (rate − quota) / quota × window size; 0 within the quota.
    /// </summary>
    public long ThrottleTimeMs(double quota, long nowMs)
    {
        var rate = Measure(nowMs);
        return rate <= quota ? 0 : (long)Math.Round((rate - quota) / quota * WindowSizeMs(nowMs));
    }

    private void Purge(long nowMs)
    {
        var expireAgeMs = samples * windowMs;
        for (var i = 0; i < _used; i++)
        {
            if (nowMs - _starts[i] >= expireAgeMs)
            {
                Start(i, nowMs);
            }
        }
    }

    private void Start(int sample, long nowMs)
    {
        _starts[sample] = nowMs;
        _values[sample] = 0;
    }
}
