using Tributary.Broker.Config;
using Tributary.Broker.Dispatch;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// IncrementalAlterConfigs v0-1 (KIP-339).
// Behaviour:
// - Authorization: ALTER_CONFIGS on the topic (TOPIC_AUTHORIZATION_FAILED), the group
//   (GROUP_AUTHORIZATION_FAILED) or, for a broker, the cluster (CLUSTER_AUTHORIZATION_FAILED).
// - Each op changes one key of a resource's set: a TOPIC's overrides, a BROKER's dynamic configs (resource "" is
//   the cluster default, DYNAMIC_DEFAULT_BROKER_CONFIG; this broker's id, DYNAMIC_BROKER_CONFIG) or a GROUP's configs
//   (consumer.session.timeout.ms, consumer.heartbeat.interval.ms, used by the group's KIP-848 members). SET (0)
//   sets it, DELETE (1) removes it so the inherited value applies again, APPEND (2) and SUBTRACT (3) add or remove
//   items of a LIST key, starting from its current value, as in Kafka.
// - APPEND/SUBTRACT on a non-list key, unknown keys and values that do not validate are INVALID_CONFIG; an unknown op,
//   a key or a resource given twice in one request is INVALID_REQUEST.
// - The ops apply all or nothing; validate_only only validates.
// - BROKER resources take Kafka's dynamic keys (the broker synonyms of topic keys: log.retention.*, log.segment.bytes,
//   message.max.bytes, …); they apply at once (topics re-inherit them) and are stored, so they survive a restart.
//   Static or unknown keys and bad values are INVALID_REQUEST ("Cannot update these configs dynamically"), as Kafka
//   answers; another broker id is INVALID_REQUEST.
public sealed class IncrementalAlterConfigsHandler(BrokerCore broker) : ApiHandler<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse>(ApiKey.IncrementalAlterConfigs, 0, 1)
{
    private const sbyte Set = 0;
    private const sbyte Delete = 1;
    private const sbyte Append = 2;
    private const sbyte Subtract = 3;

    protected override ValueTask<HandlerResult<IncrementalAlterConfigsResponse>> HandleAsync(RequestContext context, IncrementalAlterConfigsRequest request, CancellationToken cancellationToken)
    {
        var response = new IncrementalAlterConfigsResponse
        {
            Responses = [.. ConfigResources.AlterEach(broker, context, request.Resources, r => (r.ResourceType, r.ResourceName), r => Alter(r, request.ValidateOnly), Result)],
        };
        return ValueTask.FromResult<HandlerResult<IncrementalAlterConfigsResponse>>(response);
    }

    // Runs under the topic lock, so two requests changing different keys of one topic both take effect.
    private (ErrorCode Error, string? Message) Alter(IncrementalAlterConfigsRequest.AlterConfigsResource resource, bool validateOnly)
    {
        var (scope, current, error, message) = ConfigResources.Alterable(broker, resource.ResourceType, resource.ResourceName);
        if (current is null)
        {
            return (error, message);
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var configs = new Dictionary<string, string>(current, StringComparer.Ordinal);
        foreach (var op in resource.Configs)
        {
            if (!seen.Add(op.Name))
            {
                return (ErrorCode.InvalidRequest, $"config {op.Name} is given more than once");
            }

            // An unknown broker key is refused with the static ones (INVALID_REQUEST) when the set is validated.
            var definition = ConfigTable.Find(scope, op.Name);
            if (definition is null && scope != ConfigScope.Broker)
            {
                return (ErrorCode.InvalidConfig, $"unknown {(scope == ConfigScope.Topic ? "topic" : "group")} config {op.Name}");
            }

            switch (op.ConfigOperation)
            {
                case Set when op.Value is null:
                    return (ErrorCode.InvalidConfig, $"null value not supported for config {op.Name}");
                case Set:
                    configs[op.Name] = op.Value;
                    break;
                case Delete:
                    configs.Remove(op.Name);
                    break;
                case Append or Subtract when definition is not { Type: ConfigType.List }:
                    return (ErrorCode.InvalidConfig, $"{op.Name} is not a list: APPEND and SUBTRACT apply to list configs only");
                case Append or Subtract:
                    var inherited = scope == ConfigScope.Broker
                        ? broker.Config.Explicit.GetValueOrDefault(op.Name) ?? definition!.Default
                        : ConfigTable.Inherited(definition!, broker.Config.Explicit).Value;
                    var currentItems = ConfigDefinition.Items(configs.GetValueOrDefault(op.Name) ?? inherited);
                    var items = ConfigDefinition.Items(op.Value);
                    configs[op.Name] = string.Join(',', op.ConfigOperation == Append ? currentItems.Union(items) : currentItems.Except(items));
                    break;
                default:
                    return (ErrorCode.InvalidRequest, $"unknown config operation {op.ConfigOperation} for {op.Name}");
            }
        }

        return ConfigResources.Replace(broker, resource.ResourceType, resource.ResourceName, configs, validateOnly);
    }

    private static IncrementalAlterConfigsResponse.AlterConfigsResourceResponse Result(IncrementalAlterConfigsRequest.AlterConfigsResource resource, ErrorCode error, string? message) => new()
    {
        ErrorCode = (short)error,
        ErrorMessage = message,
        ResourceType = resource.ResourceType,
        ResourceName = resource.ResourceName,
    };

    protected override IncrementalAlterConfigsResponse? ErrorResponse(RequestContext context, IncrementalAlterConfigsRequest request, ErrorCode error) => new()
    {
        Responses = [.. request.Resources.Select(r => Result(r, error, null))],
    };
}
