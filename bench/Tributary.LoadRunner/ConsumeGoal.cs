namespace Tributary.LoadRunner;

/// <summary>
/// How many records the consumers together must read before they stop: known up front when reading a finished log,
/// set when the producers finish in a pipeline run. Shared by the consumer threads.
/// </summary>
internal sealed class ConsumeGoal
{
    private long _target = long.MaxValue;
    private long _consumed;
    private long _reachedNanos;
    private long _latencyFromNanos = long.MaxValue;

    public long Target
    {
        get => Volatile.Read(ref _target);
        set => Volatile.Write(ref _target, value);
    }

    public long Consumed => Volatile.Read(ref _consumed);

    /// <summary>End-to-end latency is recorded for records scheduled at or after this (monotonic) time: the end of the warm-up.</summary>
    public long LatencyFromNanos
    {
        get => Volatile.Read(ref _latencyFromNanos);
        set => Volatile.Write(ref _latencyFromNanos, value);
    }

    public bool IsReached => Consumed >= Target;

    /// <summary>When the last record arrived (monotonic), or 0 while the goal is not reached.</summary>
    public long ReachedNanos => Volatile.Read(ref _reachedNanos);

    public void Add(long records, long nowNanos)
    {
        if (Interlocked.Add(ref _consumed, records) >= Target)
        {
            Interlocked.CompareExchange(ref _reachedNanos, nowNanos, 0);
        }
    }

    /// <summary>Called after the target is lowered to a value already consumed.</summary>
    public void CheckReached(long nowNanos)
    {
        if (IsReached)
        {
            Interlocked.CompareExchange(ref _reachedNanos, nowNanos, 0);
        }
    }
}
