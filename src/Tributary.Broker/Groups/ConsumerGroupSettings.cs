using System.Globalization;
using Tributary.Broker.Config;

namespace Tributary.Broker.Groups;

/// <summary>
/// Kafka's group.consumer.* broker settings, read from the broker's explicit configuration (defaults as in Kafka):
/// group.consumer.heartbeat.interval.ms (5000), group.consumer.session.timeout.ms (45000).
/// </summary>
internal sealed record ConsumerGroupSettings(int HeartbeatIntervalMs, int SessionTimeoutMs)
{
    public const int HeartbeatIntervalMsDefault = 5000;
    public const int SessionTimeoutMsDefault = 45_000;

    public static ConsumerGroupSettings From(BrokerConfig config) => new(
        Read(config, "group.consumer.heartbeat.interval.ms", HeartbeatIntervalMsDefault),
        Read(config, "group.consumer.session.timeout.ms", SessionTimeoutMsDefault));

    private static int Read(BrokerConfig config, string key, int fallback) =>
        config.Explicit.TryGetValue(key, out var text) && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;
}
