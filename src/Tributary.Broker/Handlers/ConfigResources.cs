using System.Globalization;
using Tributary.Broker.Cluster;
using Tributary.Broker.Config;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;

namespace Tributary.Broker.Handlers;

/// <summary>The config resources (Kafka's ConfigResource.Type numbers) that DescribeConfigs and the two AlterConfigs APIs share.</summary>
internal static class ConfigResources
{
    public const sbyte Topic = 2;
    public const sbyte Broker = 4;
    public const sbyte Group = 32;

    /// <summary>A broker resource names this broker by its node id or by "" (the cluster default).</summary>
    public static bool IsThisBroker(string name, int nodeId) =>
        name.Length == 0 || (int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id == nodeId);

    /// <summary>
    /// The error when the connection may not perform <paramref name="operation"/> (DESCRIBE_CONFIGS or ALTER_CONFIGS)
    /// on the resource, as Kafka checks it: a topic's on the topic, a group's on the group, a broker's on the cluster.
    /// </summary>
    public static ErrorCode Denied(BrokerCore broker, RequestContext context, sbyte type, string name, AclOperation operation) => type switch
    {
        Topic when !broker.Authorizer.Authorize(context, operation, AclResourceType.Topic, name) => ErrorCode.TopicAuthorizationFailed,
        Group when !broker.Authorizer.Authorize(context, operation, AclResourceType.Group, name) => ErrorCode.GroupAuthorizationFailed,
        Broker when !broker.Authorizer.AuthorizeCluster(context, operation) => ErrorCode.ClusterAuthorizationFailed,
        _ => ErrorCode.None,
    };

    /// <summary>
    /// The configs set on a resource an alter request may change, and the scope of its keys: a topic's overrides, a
    /// BROKER resource's dynamic configs ("" the cluster default, else this broker's id), a group's configs. Null
    /// with the error when the resource does not exist or cannot be altered.
    /// </summary>
    public static (ConfigScope Scope, IReadOnlyDictionary<string, string>? Current, ErrorCode Error, string? Message) Alterable(BrokerCore broker, sbyte type, string name) => type switch
    {
        Topic when broker.Metadata.Find(name) is { } topic => (ConfigScope.Topic, topic.Configs, ErrorCode.None, null),
        Topic => (ConfigScope.Topic, null, ErrorCode.UnknownTopicOrPartition, $"topic '{name}' does not exist"),
        Broker when !IsThisBroker(name, broker.NodeId) => (ConfigScope.Broker, null, ErrorCode.InvalidRequest, $"unexpected broker id, expected {broker.NodeId} or an empty name, but received {name}"),
        Broker => (ConfigScope.Broker, broker.Metadata.BrokerConfigs(BrokerResourceName(broker, name)), ErrorCode.None, null),
        Group when name.Length == 0 => (ConfigScope.Group, null, ErrorCode.InvalidRequest, "group name must not be empty"),
        Group => (ConfigScope.Group, broker.Metadata.GroupConfigs(name), ErrorCode.None, null),
        _ => (ConfigScope.Topic, null, ErrorCode.InvalidRequest, $"resource type {type} is not supported"),
    };

    /// <summary>
    /// Makes <paramref name="configs"/> the resource's whole set (found by <see cref="Alterable"/> under the topic
    /// lock), all or nothing, after validating it; validate_only stops there. A topic's or group's bad key or value is
    /// INVALID_CONFIG; a BROKER resource's non-dynamic or unknown key, or bad value, is INVALID_REQUEST, as Kafka answers.
    /// </summary>
    public static (ErrorCode Error, string? Message) Replace(BrokerCore broker, sbyte type, string name, IReadOnlyDictionary<string, string> configs, bool validateOnly)
    {
        var invalid = type switch
        {
            Broker => BrokerConfigError(name, configs),
            Group => InvalidConfig(ConfigTable.Validate(ConfigScope.Group, configs).FirstOrDefault()),
            _ => InvalidConfig(TopicConfigs.Validate(configs)),
        };
        if (invalid is { } refused)
        {
            return refused;
        }

        if (validateOnly)
        {
            return (ErrorCode.None, null);
        }

        try
        {
            switch (type)
            {
                case Broker:
                    broker.UpdateBrokerConfigs(BrokerResourceName(broker, name), configs);
                    break;
                case Group:
                    broker.UpdateGroupConfigs(name, configs);
                    break;
                default:
                    broker.UpdateTopicConfigs(broker.Metadata.Find(name)!, configs);
                    break;
            }
        }
        catch (ClusterTimeoutException e)
        {
            // Cluster mode: etcd did not commit the topic's configs within ClusterNode.MetadataChangeTimeoutMsMax.
            return (ErrorCode.RequestTimedOut, e.Message);
        }
        catch (Exception e) when (BrokerCore.IsStorageFailure(e))
        {
            return (ErrorCode.KafkaStorageError, e.Message);
        }

        return (ErrorCode.None, null);
    }

    private static (ErrorCode, string?)? InvalidConfig(string? error) => error is null ? null : (ErrorCode.InvalidConfig, error);

    // Kafka's wording: "Invalid config value for resource ConfigResource(type=BROKER, name='0'): Cannot update these
    // configs dynamically: Set(node.id)".
    private static (ErrorCode, string?)? BrokerConfigError(string name, IReadOnlyDictionary<string, string> configs)
    {
        var prefix = $"Invalid config value for resource ConfigResource(type=BROKER, name='{name}'): ";
        var staticKeys = configs.Keys.Where(k => ConfigTable.Find(ConfigScope.Broker, k) is not { Dynamic: true }).Order(StringComparer.Ordinal).ToList();
        if (staticKeys.Count > 0)
        {
            return (ErrorCode.InvalidRequest, $"{prefix}Cannot update these configs dynamically: Set({string.Join(", ", staticKeys)})");
        }

        return ConfigTable.Validate(ConfigScope.Broker, configs).FirstOrDefault() is { } error ? (ErrorCode.InvalidRequest, prefix + error) : null;
    }

    // This broker's own configs are stored under its canonical id ("007" is broker 7), the cluster default under "".
    private static string BrokerResourceName(BrokerCore broker, string name) => name.Length == 0 ? "" : broker.BrokerResourceName;

    /// <summary>
    /// The loop both AlterConfigs APIs share: each resource is altered under the topic lock, so the topic read is
    /// the one replaced; a resource given twice in one request is INVALID_REQUEST, each time.
    /// </summary>
    public static IEnumerable<TResult> AlterEach<TResource, TResult>(
        BrokerCore broker,
        RequestContext context,
        IReadOnlyList<TResource> resources,
        Func<TResource, (sbyte Type, string Name)> idOf,
        Func<TResource, (ErrorCode Error, string? Message)> alter,
        Func<TResource, ErrorCode, string?, TResult> result)
    {
        var counts = resources.CountBy(idOf).ToDictionary();
        foreach (var resource in resources)
        {
            var (type, name) = idOf(resource);
            var (error, message) = counts[(type, name)] > 1
                ? (ErrorCode.InvalidRequest, "resource appears more than once in the request")
                : Denied(broker, context, type, name, AclOperation.AlterConfigs) is var denied and not ErrorCode.None ? (denied, null)
                : broker.WithTopicLock(() => alter(resource));
            yield return result(resource, error, message);
        }
    }
}
