using System.Net;
using System.Threading.RateLimiting;

namespace Tributary.Server.Networking;

/// <summary>
/// connection_creation_rate of ip quota entities (KIP-612): new connections per second from one client address, all
/// listeners together, each address measured by a token bucket of its own. The bucket holds one second of its rate
/// (the burst) and refills at that rate; a connection that finds it empty is throttled for the time one token takes.
/// The rate comes from <paramref name="rateFor"/> on every accept (the address's own quota, else the default ip
/// entity's, else none), so a change applies to the next connection, and a changed rate starts a full bucket.
/// </summary>
/// <param name="rateFor">The rate for an address, null for unlimited.</param>
public sealed class IpConnectionCreationRates(Func<IPAddress, int?> rateFor)
{
    /// <summary>
    /// Addresses measured at once. Past it, buckets that are full again (idle for a second or more, so measuring
    /// nothing) are dropped; if none is, one bucket is dropped anyway, which lets that address burst again.
    /// </summary>
    public const int AddressesTrackedMax = 10_000;

    private readonly Dictionary<IPAddress, Bucket> _buckets = [];
    private readonly Lock _lock = new();

    /// <summary>Addresses measured now.</summary>
    public int AddressesTracked
    {
        get
        {
            lock (_lock)
            {
                return _buckets.Count;
            }
        }
    }

    /// <summary>
    /// Records a new connection from <paramref name="address"/>: 0 when it is within its rate (or has none), else how
    /// long, in ms, the connection is held before it is closed, and whether it is the first one throttled since this
    /// address last got through (so the log line is written once per burst, not once per connection).
    /// </summary>
    public (long ThrottleMs, int Rate, bool First) RecordAndGetThrottleTimeMs(IPAddress address)
    {
        address = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        var rate = rateFor(address);
        lock (_lock)
        {
            if (rate is not { } limit)
            {
                Drop(address);
                return (0, 0, false);
            }

            if (!_buckets.TryGetValue(address, out var bucket) || bucket.Rate != limit)
            {
                Drop(address);
                if (_buckets.Count >= AddressesTrackedMax)
                {
                    Evict();
                }

                bucket = new Bucket(limit, new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
                {
                    TokenLimit = limit,
                    TokensPerPeriod = limit,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = false, // refilled here on each accept: no timer per address
                }));
                _buckets[address] = bucket;
            }

            bucket.Limiter.TryReplenish();
            using var lease = bucket.Limiter.AttemptAcquire(1);
            if (lease.IsAcquired)
            {
                bucket.Throttled = false;
                return (0, limit, false);
            }

            var retryMs = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? (long)Math.Ceiling(retryAfter.TotalMilliseconds) : 0;
            var first = !bucket.Throttled;
            bucket.Throttled = true;
            return (Math.Max(1, retryMs > 0 ? retryMs : 1000 / limit), limit, first);
        }
    }

    private void Drop(IPAddress address)
    {
        if (_buckets.Remove(address, out var old))
        {
            old.Limiter.Dispose();
        }
    }

    private void Evict()
    {
        foreach (var (address, bucket) in _buckets)
        {
            bucket.Limiter.TryReplenish();
            if (bucket.Limiter.IdleDuration is not null)
            {
                Drop(address);
            }
        }

        if (_buckets.Count >= AddressesTrackedMax)
        {
            Drop(_buckets.Keys.First());
        }
    }

    private sealed class Bucket(int rate, TokenBucketRateLimiter limiter)
    {
        public int Rate { get; } = rate;

        public TokenBucketRateLimiter Limiter { get; } = limiter;

        public bool Throttled { get; set; }
    }
}
