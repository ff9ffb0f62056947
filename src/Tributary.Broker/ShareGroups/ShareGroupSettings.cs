using System.Globalization;
using Tributary.Broker.Config;

namespace Tributary.Broker.ShareGroups;

/// <summary>
/// A share group's settings: its group configs (<c>share.*</c>, IncrementalAlterConfigs on a GROUP resource) over the
/// broker's <c>group.share.*</c> keys, which are their defaults.
/// </summary>
internal sealed record ShareGroupSettings(
    int HeartbeatIntervalMs,
    int SessionTimeoutMs,
    int RecordLockDurationMs,
    int DeliveryCountLimit,
    int PartitionMaxRecordLocks,
    ShareAutoOffsetReset AutoOffsetReset,
    bool ReadCommitted)
{
    public static ShareGroupSettings From(BrokerConfig config, IReadOnlyDictionary<string, string> groupConfigs)
    {
        string Value(string key) => groupConfigs.TryGetValue(key, out var own)
            ? own
            : ConfigTable.Inherited(ConfigTable.Find(ConfigScope.Group, key)!, config.Explicit).Value!;
        int Int(string key) => int.Parse(Value(key), CultureInfo.InvariantCulture);

        return new(
            Int("share.heartbeat.interval.ms"),
            Int("share.session.timeout.ms"),
            Int("share.record.lock.duration.ms"),
            Int("share.delivery.count.limit"),
            Int("share.partition.max.record.locks"),
            ShareAutoOffsetReset.Parse(Value("share.auto.offset.reset")) ?? ShareAutoOffsetReset.Latest,
            Value("share.isolation.level") == "read_committed");
    }

    /// <summary>A broker key that no group overrides (group.share.max.size, group.share.max.share.sessions).</summary>
    public static int BrokerInt(BrokerConfig config, string key) =>
        int.Parse(ConfigTable.Resolve(ConfigTable.Find(ConfigScope.Broker, key)!, config.Explicit).Value!, CultureInfo.InvariantCulture);
}
