using Tributary.Broker.Config;

namespace Tributary.Broker.Groups;

/// <summary>Kafka's group.consumer.* broker settings (heartbeat interval, session timeout), as the group coordinator uses them.</summary>
internal sealed record ConsumerGroupSettings(int HeartbeatIntervalMs, int SessionTimeoutMs)
{
    public static ConsumerGroupSettings From(BrokerConfig config) => new(config.GroupConsumerHeartbeatIntervalMs, config.GroupConsumerSessionTimeoutMs);
}
