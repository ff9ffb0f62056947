namespace Tributary.Broker.Quotas;

/// <summary>
/// controller_mutation_rate for one request (KIP-599). Strict (the request versions that know
/// THROTTLING_QUOTA_EXCEEDED: CreateTopics v6+, CreatePartitions v3+, DeleteTopics v5+): a topic is refused while the
/// client's bucket is in debt, and otherwise recorded even if that takes it below zero. Permissive (older versions):
/// every topic is recorded and the response is throttled instead.
/// </summary>
public sealed class ControllerMutationQuota
{
    private readonly ClientQuotaManager? _manager;
    private readonly QuotaSensorKey _key;

    /// <summary>No quota applies: every topic passes and nothing is throttled.</summary>
    public static ControllerMutationQuota Unlimited { get; } = new(null, default, 0, false);

    internal ControllerMutationQuota(ClientQuotaManager? manager, QuotaSensorKey key, double rate, bool strict)
    {
        _manager = manager;
        _key = key;
        Rate = rate;
        Strict = strict;
    }

    public double Rate { get; }

    public bool Strict { get; }

    /// <summary>Records <paramref name="partitions"/> mutations; false, recording nothing, if strict and already over.</summary>
    public bool TryRecord(int partitions) => _manager is null || _manager.RecordMutations(_key, Rate, partitions, Strict);

    /// <summary>How long the client should wait before its next mutation, for the response's throttle_time_ms.</summary>
    public int ThrottleTimeMs => _manager is null ? 0 : _manager.MutationThrottleTimeMs(_key, Rate);
}
