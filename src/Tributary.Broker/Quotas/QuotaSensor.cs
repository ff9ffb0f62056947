namespace Tributary.Broker.Quotas;

/// <summary>One <see cref="QuotaSensorKey"/>'s measured usage: a windowed rate, or a token bucket for controller mutations.</summary>
internal sealed class QuotaSensor(WindowedRate? rate, TokenBucket? bucket)
{
    public Lock Lock { get; } = new();

    public WindowedRate? Rate { get; } = rate;

    public TokenBucket? Bucket { get; } = bucket;

    /// <summary>When it last recorded (ms): one idle longer than all its windows measures nothing and may go.</summary>
    public long LastRecordMs { get; set; }
}
