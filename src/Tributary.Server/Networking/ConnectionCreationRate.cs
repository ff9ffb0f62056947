using Tributary.Broker.Quotas;

namespace Tributary.Server.Networking;

/// <summary>
/// max.connection.creation.rate (KIP-612), broker-wide or for one listener: new connections per second measured as
/// Kafka measures client quotas (quota.window.num samples of quota.window.size.seconds). A connection past the rate
/// is still taken, but the listener accepts nothing more until the rate is back within it, as Kafka's acceptor waits.
/// </summary>
public sealed class ConnectionCreationRate(string name, int ratePerSecond, int samples, long windowMs, TimeProvider time)
{
    private readonly WindowedRate _rate = new(samples, windowMs);
    private readonly Lock _lock = new();

    /// <summary>The key the rate comes from, for the log line.</summary>
    public string Name { get; } = name;

    public int RatePerSecond { get; } = ratePerSecond;

    /// <summary>Records one new connection; returns how long accepting should wait, at most one window.</summary>
    public long RecordAndGetThrottleTimeMs()
    {
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        lock (_lock)
        {
            _rate.Record(1, nowMs);
            return Math.Min(windowMs, _rate.ThrottleTimeMs(RatePerSecond, nowMs));
        }
    }
}
