using System.Collections.Concurrent;
using System.Net;
using Tributary.Broker.Metadata;

namespace Tributary.Broker.Quotas;

/// <summary>
/// Kafka's client quotas: finds the quota that applies to a (user, client id) and measures the client's usage against
/// it, answering how long the client must be throttled. The quotas themselves live in the <see cref="MetadataStore"/>
/// (AlterClientQuotas), so a change applies to the next request; usage is measured per <see cref="QuotaSensorKey"/>.
/// With no quota stored every call returns at once.
/// </summary>
public sealed class ClientQuotaManager
{
    /// <summary>Sensors kept before the ones idle longer than their windows (which measure nothing) are dropped.</summary>
    public const int SensorsMax = 10_000;

    private readonly MetadataStore _metadata;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<QuotaSensorKey, QuotaSensor> _sensors = new();

    // The connection_creation_rate of ip entities, read once from each snapshot of the stored quotas.
    private IpRates _ipRates = new(null, [], null);

    /// <param name="samples">quota.window.num.</param>
    /// <param name="windowMs">quota.window.size.seconds, in milliseconds.</param>
    /// <param name="controllerSamples">controller.quota.window.num.</param>
    /// <param name="controllerWindowMs">controller.quota.window.size.seconds, in milliseconds.</param>
    public ClientQuotaManager(MetadataStore metadata, TimeProvider time, int samples, long windowMs, int controllerSamples, long controllerWindowMs)
    {
        _metadata = metadata;
        _time = time;
        Samples = samples;
        WindowMs = windowMs;
        ControllerSamples = controllerSamples;
        ControllerWindowMs = controllerWindowMs;
    }

    public int Samples { get; }

    public long WindowMs { get; }

    public int ControllerSamples { get; }

    public long ControllerWindowMs { get; }

    /// <summary>
    /// Longest throttle request_percentage earns, as Kafka's ClientRequestQuotaManager bounds it: one quota window.
    /// The byte rates are not bounded: their throttle is the whole time the client's rate needs to fall back.
    /// </summary>
    public long RequestThrottleTimeMsMax => WindowMs;

    /// <summary>Whether any quota is stored; false makes every measurement free.</summary>
    public bool Enabled => _metadata.ClientQuotas.Count > 0;

    /// <summary>The quota user of a principal: its name without the type ("User:alice" is alice, else ANONYMOUS).</summary>
    public static string UserOf(string principal) => principal.StartsWith("User:", StringComparison.Ordinal) ? principal[5..] : principal;

    /// <summary>
    /// The quota of <paramref name="type"/> for a client, in Kafka's order of precedence: /users/u/clients/c,
    /// /users/u/clients/&lt;default&gt;, /users/u, /users/&lt;default&gt;/clients/c,
    /// /users/&lt;default&gt;/clients/&lt;default&gt;, /users/&lt;default&gt;, /clients/c, /clients/&lt;default&gt;.
    /// Null when none applies.
    /// </summary>
    public (double Quota, QuotaSensorKey Key)? Find(ClientQuotaType type, string user, string? clientId)
    {
        var quotas = _metadata.ClientQuotas;
        if (quotas.Count == 0)
        {
            return null;
        }

        var key = ClientQuotaKeys.Name(type);
        clientId ??= "";
        QuotaEntityName u = new(user), c = new(clientId), d = QuotaEntityName.Default;
        ReadOnlySpan<ClientQuotaEntity> order =
        [
            new(u, c), new(u, d), new(u, null), new(d, c), new(d, d), new(d, null), new(null, c), new(null, d),
        ];
        foreach (var entity in order)
        {
            if (quotas.TryGetValue(entity, out var values) && values.TryGetValue(key, out var quota))
            {
                return (quota, new QuotaSensorKey(type, entity.User is null ? null : user, entity.ClientId is null ? null : clientId));
            }
        }

        return null;
    }

    /// <summary>
    /// Records <paramref name="value"/> (bytes, or request percent) against the client's quota of <paramref name="type"/>
    /// and returns the throttle time in ms it has earned (0 within its quota or without one; for request_percentage at
    /// most <see cref="RequestThrottleTimeMsMax"/>).
    /// </summary>
    public long RecordAndGetThrottleTimeMs(ClientQuotaType type, string user, string? clientId, double value)
    {
        if (Find(type, user, clientId) is not var (quota, key))
        {
            return 0;
        }

        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var sensor = SensorFor(key, nowMs);
        lock (sensor.Lock)
        {
            sensor.LastRecordMs = nowMs;
            sensor.Rate!.Record(value, nowMs);
            var throttleMs = sensor.Rate.ThrottleTimeMs(quota, nowMs);
            return type == ClientQuotaType.Request ? Math.Min(RequestThrottleTimeMsMax, throttleMs) : Math.Min(int.MaxValue, throttleMs);
        }
    }

    /// <summary>
    /// The connection_creation_rate that applies to connections from <paramref name="address"/>, as Kafka's
    /// ConnectionQuotas finds it: the address's own ip entity, else the default ip entity; null when neither has one
    /// (unlimited). Read from the stored quotas, so an AlterClientQuotas applies to the next connection.
    /// </summary>
    public int? ConnectionCreationRateFor(IPAddress address)
    {
        var quotas = _metadata.ClientQuotas;
        var rates = Volatile.Read(ref _ipRates);
        if (!ReferenceEquals(rates.Source, quotas))
        {
            rates = IpRates.Of(quotas);
            Volatile.Write(ref _ipRates, rates);
        }

        if (rates.ByAddress.Count == 0 && rates.Default is null)
        {
            return null;
        }

        address = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        return rates.ByAddress.TryGetValue(address, out var own) ? own : rates.Default;
    }

    private sealed record IpRates(object? Source, Dictionary<IPAddress, int> ByAddress, int? Default)
    {
        public static IpRates Of(IReadOnlyDictionary<ClientQuotaEntity, IReadOnlyDictionary<string, double>> quotas)
        {
            var byAddress = new Dictionary<IPAddress, int>();
            int? defaultRate = null;
            foreach (var (entity, values) in quotas)
            {
                if (entity.Ip is not { } ip || !values.TryGetValue(ClientQuotaKeys.ConnectionCreationRate, out var value))
                {
                    continue;
                }

                var rate = (int)Math.Min(int.MaxValue, value);
                if (ip.IsDefault)
                {
                    defaultRate = rate;
                }
                else if (ClientQuotaEntities.ParseIp(ip.Name!) is { } address)
                {
                    byAddress[address] = rate;
                }
            }

            return new IpRates(quotas, byAddress, defaultRate);
        }
    }

    /// <summary>The controller_mutation_rate of one CreateTopics, CreatePartitions or DeleteTopics request.</summary>
    /// <param name="strict">whether the request's version can carry THROTTLING_QUOTA_EXCEEDED.</param>
    public ControllerMutationQuota ControllerMutation(string user, string? clientId, bool strict) =>
        Find(ClientQuotaType.ControllerMutation, user, clientId) is var (rate, key) ? new ControllerMutationQuota(this, key, rate, strict) : ControllerMutationQuota.Unlimited;

    internal bool RecordMutations(QuotaSensorKey key, double rate, int partitions, bool strict)
    {
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var sensor = SensorFor(key, nowMs);
        lock (sensor.Lock)
        {
            if (strict && sensor.Bucket!.Tokens(rate, nowMs) < 0)
            {
                return false;
            }

            sensor.LastRecordMs = nowMs;
            sensor.Bucket!.Record(partitions, rate, nowMs);
            return true;
        }
    }

    internal int MutationThrottleTimeMs(QuotaSensorKey key, double rate)
    {
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var sensor = SensorFor(key, nowMs);
        lock (sensor.Lock)
        {
            return (int)Math.Min(int.MaxValue, sensor.Bucket!.ThrottleTimeMs(rate, nowMs));
        }
    }

    private QuotaSensor SensorFor(QuotaSensorKey key, long nowMs)
    {
        if (_sensors.TryGetValue(key, out var sensor))
        {
            return sensor;
        }

        if (_sensors.Count >= SensorsMax)
        {
            DropIdle(nowMs);
        }

        return _sensors.GetOrAdd(key, k => k.Type == ClientQuotaType.ControllerMutation
            ? new QuotaSensor(null, new TokenBucket(ControllerSamples, ControllerWindowMs)) { LastRecordMs = nowMs }
            : new QuotaSensor(new WindowedRate(Samples, WindowMs), null) { LastRecordMs = nowMs });
    }

    private void DropIdle(long nowMs)
    {
        var idleMs = Math.Max(Samples * WindowMs, ControllerSamples * ControllerWindowMs);
        foreach (var (key, sensor) in _sensors)
        {
            if (nowMs - sensor.LastRecordMs > idleMs)
            {
                _sensors.TryRemove(key, out _);
            }
        }
    }
}
