using Tributary.Broker.Quotas;

namespace Tributary.Broker.Tests.Quotas;

/// <summary>Kafka's quota rate and token bucket: the rate a client is measured at and the throttle time it earns.</summary>
public sealed class QuotaRateTests
{
    [Fact]
    public void A_first_request_is_measured_over_the_full_window_and_earns_the_time_to_fall_back_to_the_quota()
    {
        var rate = new WindowedRate(samples: 11, windowMs: 1000);
        rate.Record(1000, nowMs: 0);

        // No time has passed, yet the window counts as samples - 1 = 10 whole windows: 1000 bytes over 10 s.
        Assert.Equal(10_000, rate.WindowSizeMs(0));
        Assert.Equal(100, rate.Measure(0));

        // (rate - quota) / quota × window: waiting 10 s more brings 1000 bytes over 20 s down to 50/s.
        Assert.Equal(10_000, rate.ThrottleTimeMs(quota: 50, nowMs: 0));
        Assert.Equal(0, rate.ThrottleTimeMs(quota: 100, nowMs: 0));
    }

    [Fact]
    public void Samples_roll_over_and_the_oldest_is_reused_once_all_windows_are_full()
    {
        var rate = new WindowedRate(samples: 11, windowMs: 1000);
        for (var second = 0; second <= 10; second++)
        {
            rate.Record(100, second * 1000);
        }

        Assert.Equal(10_000, rate.WindowSizeMs(10_000));
        Assert.Equal(110, rate.Measure(10_000), 6);

        // The twelfth window takes the first one's place: 1,100 bytes from 1 s to 11 s.
        rate.Record(100, 11_000);
        Assert.Equal(10_000, rate.WindowSizeMs(11_000));
        Assert.Equal(110, rate.Measure(11_000), 6);
    }

    [Fact]
    public void Usage_older_than_all_windows_no_longer_counts()
    {
        var rate = new WindowedRate(samples: 11, windowMs: 1000);
        rate.Record(1_000_000, 0);
        Assert.Equal(0, rate.Measure(11_000));
        Assert.Equal(0, rate.ThrottleTimeMs(1, 11_000));
    }

    [Fact]
    public void The_token_bucket_lets_a_burst_through_then_throttles_until_its_debt_is_repaid()
    {
        var bucket = new TokenBucket(samples: 11, windowMs: 1000);

        // Rate 2/s: a burst of 2 × 11 × 1 s = 22 tokens.
        Assert.Equal(22, bucket.Tokens(rate: 2, nowMs: 0));
        bucket.Record(30, rate: 2, nowMs: 0);
        Assert.Equal(-8, bucket.Tokens(2, 0));
        Assert.Equal(4_000, bucket.ThrottleTimeMs(2, 0));
        Assert.Equal(1_000, bucket.ThrottleTimeMs(2, 3_000));
        Assert.Equal(0, bucket.ThrottleTimeMs(2, 4_000));

        // Refilled, never beyond the burst.
        Assert.Equal(22, bucket.Tokens(2, 3_600_000));
    }
}
