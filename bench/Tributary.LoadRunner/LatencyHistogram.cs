using System.Numerics;

namespace Tributary.LoadRunner;

/// <summary>
/// Log-linear histogram of durations in nanoseconds: exact below 128 ns, then 64 buckets per power of two
/// (under 1.6% error), up to 2^40 ns (about 18 minutes; longer values land in the last bucket). Fixed size, so
/// recording never allocates. Not thread-safe: each thread keeps its own and they are merged at the end.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 6;
    private const int ExactBelow = 128;
    private const int ExponentMax = 40;
    private const int BucketCount = ExactBelow + ((ExponentMax - 7 + 1) << SubBucketBits);

    private readonly long[] _counts = new long[BucketCount];

    public long Count { get; private set; }

    public long MaxNanos { get; private set; }

    public void Record(long nanos)
    {
        nanos = Math.Max(nanos, 0);
        _counts[IndexOf(nanos)]++;
        Count++;
        MaxNanos = Math.Max(MaxNanos, nanos);
    }

    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < BucketCount; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        MaxNanos = Math.Max(MaxNanos, other.MaxNanos);
    }

    /// <summary>The value at quantile <paramref name="q"/> (0..1) in milliseconds, or null when nothing was recorded.</summary>
    public double? QuantileMs(double q)
    {
        if (Count == 0)
        {
            return null;
        }

        var rank = (long)Math.Ceiling(q * Count);
        rank = Math.Clamp(rank, 1, Count);
        long seen = 0;
        for (var i = 0; i < BucketCount; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(MidpointOf(i), MaxNanos) / 1e6;
            }
        }

        return MaxNanos / 1e6;
    }

    private static int IndexOf(long nanos)
    {
        if (nanos < ExactBelow)
        {
            return (int)nanos;
        }

        var exponent = Math.Min(BitOperations.Log2((ulong)nanos), ExponentMax);
        var shift = exponent - SubBucketBits;
        var sub = (int)Math.Min(nanos >> shift, (2 << SubBucketBits) - 1);
        return ExactBelow + ((exponent - 7) << SubBucketBits) + (sub - (1 << SubBucketBits));
    }

    private static double MidpointOf(int index)
    {
        if (index < ExactBelow)
        {
            return index;
        }

        var offset = index - ExactBelow;
        var exponent = (offset >> SubBucketBits) + 7;
        var sub = (offset & ((1 << SubBucketBits) - 1)) + (1 << SubBucketBits);
        var shift = exponent - SubBucketBits;
        var low = (double)((long)sub << shift);
        return low + ((1L << shift) / 2.0);
    }
}
