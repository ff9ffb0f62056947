using Tributary.Broker.Config;

namespace Tributary.Broker.Groups;

/// <summary>
/// Kafka's group.consumer.* broker settings (heartbeat interval, session timeout), as the group coordinator uses them,
/// overridden per group by its group configs.
/// </summary>
internal sealed record ConsumerGroupSettings(int HeartbeatIntervalMs, int SessionTimeoutMs)
{
    public const string HeartbeatIntervalMsKey = "consumer.heartbeat.interval.ms";
    public const string SessionTimeoutMsKey = "consumer.session.timeout.ms";

    /// <param name="groupConfigs">The group's own configs, validated when they were set.</param>
    public static ConsumerGroupSettings From(BrokerConfig config, IReadOnlyDictionary<string, string>? groupConfigs = null) => new(
        Override(groupConfigs, HeartbeatIntervalMsKey) ?? config.GroupConsumerHeartbeatIntervalMs,
        Override(groupConfigs, SessionTimeoutMsKey) ?? config.GroupConsumerSessionTimeoutMs);

    private static int? Override(IReadOnlyDictionary<string, string>? configs, string key) =>
        configs is not null && configs.TryGetValue(key, out var value) ? int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : null;
}
