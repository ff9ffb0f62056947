namespace Tributary.Broker.Quotas;

/// <summary>
/// Kafka's TokenBucket for controller_mutation_rate (KIP-599): it holds up to rate × samples × window seconds of
/// tokens (the burst), refills at the rate, and a recorded mutation takes its partitions out even past zero: a
/// request is never cut short, the next one waits until the debt is repaid. System.Threading.RateLimiting's token
/// bucket cannot go below zero, so it cannot say how long that debt takes. Not thread-safe: a sensor locks around it.
/// </summary>
public sealed class TokenBucket(int samples, long windowMs)
{
    private double _tokens = double.NaN;
    private long _updatedMs;

    /// <summary>Tokens left at <paramref name="nowMs"/> (negative: in debt).</summary>
    public double Tokens(double rate, long nowMs)
    {
        var burst = rate * samples * windowMs / 1000.0;
        _tokens = double.IsNaN(_tokens) ? burst : Math.Min(burst, _tokens + (rate * (nowMs - _updatedMs) / 1000.0));
        _updatedMs = nowMs;
        return _tokens;
    }

    public void Record(double value, double rate, long nowMs) => _tokens = Tokens(rate, nowMs) - value;

    /// <summary>Milliseconds until the bucket is out of debt: −tokens / rate; 0 when it is not in debt.</summary>
    public long ThrottleTimeMs(double rate, long nowMs)
    {
        var tokens = Tokens(rate, nowMs);
        return tokens >= 0 ? 0 : (long)Math.Round(-tokens / rate * 1000);
    }
}
