using Tributary.Broker.Config;

namespace Tributary.Fuzz;

/// <summary>The configuration of the brokers the targets start: Tributary's defaults, plus the given settings.</summary>
public static class FuzzBrokerConfig
{
    /// <summary>A broker that keeps everything in memory.</summary>
    public static BrokerConfig InMemory() => Parse("tributary.storage=memory", "group.initial.rebalance.delay.ms=0");

    /// <summary>A broker whose data directory is <paramref name="directory"/> (on the device the caller gives).</summary>
    public static BrokerConfig OnDisk(string directory) => Parse($"log.dirs={directory}", "group.initial.rebalance.delay.ms=0");

    private static BrokerConfig Parse(params string[] settings)
    {
        var (config, errors) = BrokerConfig.Parse(settings.Select(s => s.Split('=', 2)).Select(kv => KeyValuePair.Create(kv[0], kv[1])));
        return config ?? throw new InvalidOperationException(string.Join("; ", errors));
    }
}
