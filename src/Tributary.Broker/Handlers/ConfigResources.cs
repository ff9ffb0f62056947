using System.Globalization;
using Tributary.Broker.Config;
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

    /// <summary>
    /// The loop both AlterConfigs APIs share: each resource is altered under the topic lock, so the topic read is
    /// the one replaced; a resource given twice in one request is INVALID_REQUEST, each time.
    /// </summary>
    public static IEnumerable<TResult> AlterEach<TResource, TResult>(
        BrokerCore broker,
        IReadOnlyList<TResource> resources,
        Func<TResource, (sbyte Type, string Name)> idOf,
        Func<TResource, (ErrorCode Error, string? Message)> alter,
        Func<TResource, ErrorCode, string?, TResult> result)
    {
        var counts = resources.CountBy(idOf).ToDictionary();
        foreach (var resource in resources)
        {
            var (error, message) = counts[idOf(resource)] > 1
                ? (ErrorCode.InvalidRequest, "resource appears more than once in the request")
                : broker.WithTopicLock(() => alter(resource));
            yield return result(resource, error, message);
        }
    }

    /// <summary>
    /// Makes <paramref name="configs"/> the topic's whole override set, all or nothing: the set is validated against
    /// <see cref="ConfigTable"/> first (INVALID_CONFIG), and validate_only stops there.
    /// </summary>
    public static (ErrorCode Error, string? Message) ReplaceTopicConfigs(BrokerCore broker, TopicInfo topic, IReadOnlyDictionary<string, string> configs, bool validateOnly)
    {
        if (TopicConfigs.Validate(configs) is { } invalid)
        {
            return (ErrorCode.InvalidConfig, invalid);
        }

        if (!validateOnly)
        {
            try
            {
                broker.UpdateTopicConfigs(topic, configs);
            }
            catch (Exception e) when (BrokerCore.IsStorageFailure(e))
            {
                return (ErrorCode.KafkaStorageError, e.Message);
            }
        }

        return (ErrorCode.None, null);
    }
}
