using Tributary.Broker.Dispatch;
using Tributary.Broker.Metadata;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// DescribeConfigs v0-4.
// Behaviour:
// - Authorization: DESCRIBE_CONFIGS on the topic (TOPIC_AUTHORIZATION_FAILED), the group
//   (GROUP_AUTHORIZATION_FAILED) or, for a broker, the cluster (CLUSTER_AUTHORIZATION_FAILED).
// - Resource types TOPIC (2), BROKER (4) and GROUP (32). A broker id lists every broker key in force; "" (the
//   cluster default) lists only the dynamic defaults set, as Kafka does; another id is INVALID_REQUEST. A group need
//   not exist (its configs are kept by name). Other resource types get INVALID_REQUEST, unknown topics
//   UNKNOWN_TOPIC_OR_PARTITION, illegal topic names INVALID_TOPIC_EXCEPTION.
// - configuration_keys null means every key; keys that do not exist are left out, as in Kafka. Keys are listed by
//   name (Kafka's order is its hash map's; its tools sort by name).
// - Sources and synonyms as Kafka's ConfigHelper computes them: DYNAMIC_TOPIC_CONFIG / GROUP_CONFIG overrides, then
//   the broker key by DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG.
//   Broker keys are read-only except the dynamic ones. Sensitive values are never returned.
// Versions:
// - v0 says is_default instead of the source.
// - Keys, types, sensitivity and documentation (v3+, when include_documentation asks) come from ConfigTable.
public sealed class DescribeConfigsHandler(BrokerCore broker) : ApiHandler<DescribeConfigsRequest, DescribeConfigsResponse>(ApiKey.DescribeConfigs, 0, 4)
{
    protected override ValueTask<HandlerResult<DescribeConfigsResponse>> HandleAsync(RequestContext context, DescribeConfigsRequest request, CancellationToken cancellationToken)
    {
        var response = new DescribeConfigsResponse();
        foreach (var resource in request.Resources)
        {
            var denied = ConfigResources.Denied(broker, context, resource.ResourceType, resource.ResourceName, AclOperation.DescribeConfigs);
            response.Results.Add(denied != ErrorCode.None ? Failure(resource, denied, null) : Describe(resource, request.IncludeSynonyms, request.IncludeDocumentation, context.ApiVersion));
        }

        return ValueTask.FromResult<HandlerResult<DescribeConfigsResponse>>(response);
    }

    private const sbyte DefaultConfigSource = 5;

    private DescribeConfigsResponse.DescribeConfigsResult Describe(DescribeConfigsRequest.DescribeConfigsResource resource, bool includeSynonyms, bool includeDocumentation, short version)
    {
        IEnumerable<EffectiveConfigs.Entry> entries;
        switch (resource.ResourceType)
        {
            case ConfigResources.Topic:
                if (MetadataStore.ValidateTopicName(resource.ResourceName) is { } invalidName)
                {
                    return Failure(resource, ErrorCode.InvalidTopicException, invalidName);
                }

                if (broker.Metadata.Find(resource.ResourceName) is not { } topic)
                {
                    return Failure(resource, ErrorCode.UnknownTopicOrPartition, $"topic '{resource.ResourceName}' does not exist");
                }

                entries = EffectiveConfigs.ForTopic(topic.Configs, broker.Config);
                break;
            case ConfigResources.Broker:
                if (!ConfigResources.IsThisBroker(resource.ResourceName, broker.NodeId))
                {
                    return Failure(resource, ErrorCode.InvalidRequest, $"expected broker id {broker.NodeId} or an empty name, got '{resource.ResourceName}'");
                }

                entries = EffectiveConfigs.ForBroker(broker.Config, perBroker: resource.ResourceName.Length > 0);
                break;
            case ConfigResources.Group:
                if (resource.ResourceName.Length == 0)
                {
                    return Failure(resource, ErrorCode.InvalidRequest, "group name must not be empty");
                }

                entries = EffectiveConfigs.ForGroup(broker.Metadata.GroupConfigs(resource.ResourceName), broker.Config);
                break;
            default:
                return Failure(resource, ErrorCode.InvalidRequest, $"resource type {resource.ResourceType} is not supported");
        }

        if (resource.ConfigurationKeys is { } keys)
        {
            var wanted = keys.ToHashSet(StringComparer.Ordinal);
            entries = entries.Where(e => wanted.Contains(e.Name));
        }

        var result = new DescribeConfigsResponse.DescribeConfigsResult
        {
            ErrorMessage = null,
            ResourceType = resource.ResourceType,
            ResourceName = resource.ResourceName,
        };
        foreach (var entry in entries)
        {
            var config = new DescribeConfigsResponse.DescribeConfigsResourceResult
            {
                Name = entry.Name,
                Value = entry.Value,
                ReadOnly = entry.ReadOnly,
                ConfigSource = entry.Source,
                IsDefault = version == 0 && entry.Source == DefaultConfigSource,
                IsSensitive = entry.IsSensitive,
            };
            if (includeSynonyms)
            {
                config.Synonyms = [.. entry.Synonyms.Select(s => new DescribeConfigsResponse.DescribeConfigsSynonym { Name = s.Name, Value = s.Value, Source = s.Source })];
            }

            // config_type and documentation exist from v3.
            if (version >= 3)
            {
                config.ConfigType = entry.Type;
                config.Documentation = includeDocumentation ? entry.Documentation : null;
            }

            result.Configs.Add(config);
        }

        return result;
    }

    private static DescribeConfigsResponse.DescribeConfigsResult Failure(DescribeConfigsRequest.DescribeConfigsResource resource, ErrorCode error, string? message) => new()
    {
        ErrorCode = (short)error,
        ErrorMessage = message,
        ResourceType = resource.ResourceType,
        ResourceName = resource.ResourceName,
    };

    protected override DescribeConfigsResponse? ErrorResponse(RequestContext context, DescribeConfigsRequest request, ErrorCode error) => new()
    {
        Results = [.. request.Resources.Select(r => Failure(r, error, null))],
    };
}
