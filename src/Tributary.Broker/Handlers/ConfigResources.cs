using System.Globalization;
using Tributary.Broker.Metadata;
using Tributary.Protocol;

namespace Tributary.Broker.Handlers;

/// <summary>The config resources (Kafka's ConfigResource.Type numbers) that DescribeConfigs and the two AlterConfigs APIs share.</summary>
internal static class ConfigResources
{
    public const sbyte Topic = 2;
    public const sbyte Broker = 4;

    /// <summary>A broker resource names this broker by its node id or by "" (the broker that receives the request).</summary>
    public static bool IsThisBroker(string name, int nodeId) =>
        name.Length == 0 || (int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id == nodeId);

    /// <summary>
    /// The topic an alter request may change. Broker configs come from the properties the broker started with and
    /// cannot be altered (there are no dynamic broker configs); other resource types are not supported.
    /// </summary>
    public static (TopicInfo? Topic, ErrorCode Error, string? Message) AlterableTopic(BrokerCore broker, sbyte type, string name) => type switch
    {
        Topic when broker.Metadata.Find(name) is { } topic => (topic, ErrorCode.None, null),
        Topic => (null, ErrorCode.UnknownTopicOrPartition, $"topic '{name}' does not exist"),
        Broker => (null, ErrorCode.InvalidRequest, "broker configs are static: set them in the broker's properties and restart it"),
        _ => (null, ErrorCode.InvalidRequest, $"resource type {type} is not supported"),
    };
}
