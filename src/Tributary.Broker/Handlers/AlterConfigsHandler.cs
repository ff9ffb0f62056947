using Tributary.Broker.Dispatch;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// AlterConfigs v0-2 (the legacy, non-incremental API).
// Behaviour:
// - Authorization: ALTER_CONFIGS on the topic (TOPIC_AUTHORIZATION_FAILED), the group
//   (GROUP_AUTHORIZATION_FAILED) or, for a broker, the cluster (CLUSTER_AUTHORIZATION_FAILED).
// - The configs given become the resource's whole set, as in Kafka: a TOPIC's overrides (keys left out return to
//   their defaults), a BROKER's dynamic configs ("" the cluster default, else this broker's id), a GROUP's configs.
// - The new set is validated first (unknown key, bad or null value: INVALID_CONFIG) and nothing changes on error;
//   validate_only only validates.
// - A key or a resource given twice in one request is INVALID_REQUEST; unknown topics get UNKNOWN_TOPIC_OR_PARTITION.
// - BROKER resources take the dynamic keys only (others: INVALID_REQUEST, "Cannot update these configs
//   dynamically"); see IncrementalAlterConfigsHandler.
public sealed class AlterConfigsHandler(BrokerCore broker) : ApiHandler<AlterConfigsRequest, AlterConfigsResponse>(ApiKey.AlterConfigs, 0, 2)
{
    protected override ValueTask<HandlerResult<AlterConfigsResponse>> HandleAsync(RequestContext context, AlterConfigsRequest request, CancellationToken cancellationToken)
    {
        var response = new AlterConfigsResponse
        {
            Responses = [.. ConfigResources.AlterEach(broker, context, request.Resources, r => (r.ResourceType, r.ResourceName), r => Alter(r, request.ValidateOnly), Result)],
        };
        return ValueTask.FromResult<HandlerResult<AlterConfigsResponse>>(response);
    }

    // Runs under the topic lock: the topic read here is the one replaced.
    private (ErrorCode Error, string? Message) Alter(AlterConfigsRequest.AlterConfigsResource resource, bool validateOnly)
    {
        var (_, current, error, message) = ConfigResources.Alterable(broker, resource.ResourceType, resource.ResourceName);
        if (current is null)
        {
            return (error, message);
        }

        var configs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var config in resource.Configs)
        {
            if (config.Value is null)
            {
                return (ErrorCode.InvalidConfig, $"null value not supported for config {config.Name}");
            }

            if (!configs.TryAdd(config.Name, config.Value))
            {
                return (ErrorCode.InvalidRequest, $"config {config.Name} is given more than once");
            }
        }

        return ConfigResources.Replace(broker, resource.ResourceType, resource.ResourceName, configs, validateOnly);
    }

    private static AlterConfigsResponse.AlterConfigsResourceResponse Result(AlterConfigsRequest.AlterConfigsResource resource, ErrorCode error, string? message) => new()
    {
        ErrorCode = (short)error,
        ErrorMessage = message,
        ResourceType = resource.ResourceType,
        ResourceName = resource.ResourceName,
    };

    protected override AlterConfigsResponse? ErrorResponse(RequestContext context, AlterConfigsRequest request, ErrorCode error) => new()
    {
        Responses = [.. request.Resources.Select(r => Result(r, error, null))],
    };
}
