using Tributary.Broker.Config;
using Tributary.Broker.Dispatch;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// IncrementalAlterConfigs v0-1 (KIP-339).
// Behaviour:
// - For a TOPIC resource each op changes one key of the topic's overrides: SET (0) overrides it, DELETE (1) removes
//   the override so the default applies again, APPEND (2) and SUBTRACT (3) add or remove items of a LIST key,
//   starting from its current value (the override, else the inherited value), as in Kafka.
// - APPEND/SUBTRACT on a non-list key, unknown keys and values that do not validate are INVALID_CONFIG; an unknown op,
//   a key or a resource given twice in one request is INVALID_REQUEST.
// - The ops apply all or nothing; validate_only only validates.
// - BROKER resources get INVALID_REQUEST: broker configs are static.
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
            Responses = [.. ConfigResources.AlterEach(broker, request.Resources, r => (r.ResourceType, r.ResourceName), r => Alter(r, request.ValidateOnly), Result)],
        };
        return ValueTask.FromResult<HandlerResult<IncrementalAlterConfigsResponse>>(response);
    }

    // Runs under the topic lock, so two requests changing different keys of one topic both take effect.
    private (ErrorCode Error, string? Message) Alter(IncrementalAlterConfigsRequest.AlterConfigsResource resource, bool validateOnly)
    {
        var (topic, error, message) = ConfigResources.AlterableTopic(broker, resource.ResourceType, resource.ResourceName);
        if (topic is null)
        {
            return (error, message);
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var configs = new Dictionary<string, string>(topic.Configs, StringComparer.Ordinal);
        foreach (var op in resource.Configs)
        {
            if (!seen.Add(op.Name))
            {
                return (ErrorCode.InvalidRequest, $"config {op.Name} is given more than once");
            }

            if (ConfigTable.Find(ConfigScope.Topic, op.Name) is not { } definition)
            {
                return (ErrorCode.InvalidConfig, $"unknown topic config {op.Name}");
            }

            switch (op.ConfigOperation)
            {
                case Set when op.Value is null:
                    return (ErrorCode.InvalidConfig, $"null value not supported for topic config {op.Name}");
                case Set:
                    configs[op.Name] = op.Value;
                    break;
                case Delete:
                    configs.Remove(op.Name);
                    break;
                case Append or Subtract when definition.Type != ConfigType.List:
                    return (ErrorCode.InvalidConfig, $"{op.Name} is not a list: APPEND and SUBTRACT apply to list configs only");
                case Append or Subtract:
                    var current = ConfigDefinition.Items(configs.GetValueOrDefault(op.Name) ?? ConfigTable.Inherited(definition, broker.Config.Explicit).Value);
                    var items = ConfigDefinition.Items(op.Value);
                    configs[op.Name] = string.Join(',', op.ConfigOperation == Append ? current.Union(items) : current.Except(items));
                    break;
                default:
                    return (ErrorCode.InvalidRequest, $"unknown config operation {op.ConfigOperation} for {op.Name}");
            }
        }

        return ConfigResources.ReplaceTopicConfigs(broker, topic, configs, validateOnly);
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
