using Tributary.Broker.Dispatch;
using Tributary.Broker.Quotas;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// DescribeClientQuotas v0-1 (KIP-546).
// Behaviour:
// - Lists the stored entities that match every filter component, each with its quota keys and values (a default
//   part has a null name); ip entities (connection_creation_rate) match ip components as the others do. A component matches a type's exact name (match type 0), its default (1), or any entity
//   with that type, default or named (2). Strict: the entity has no type the filter does not name.
// - INVALID_REQUEST (response level, no entries), as Kafka: an unknown entity type or match type, a type named twice,
//   an exact match without a name, ip combined with user or client-id.
// Versions:
// - v0-1 (v1 flexible).
public sealed class DescribeClientQuotasHandler(BrokerCore broker)
    : ApiHandler<DescribeClientQuotasRequest, DescribeClientQuotasResponse>(ApiKey.DescribeClientQuotas, 0, 1)
{
    private const sbyte MatchExact = 0;
    private const sbyte MatchDefault = 1;
    private const sbyte MatchSpecified = 2;

    protected override ValueTask<HandlerResult<DescribeClientQuotasResponse>> HandleAsync(RequestContext context, DescribeClientQuotasRequest request, CancellationToken cancellationToken)
    {
        if (Check(request.Components) is { } error)
        {
            return ValueTask.FromResult<HandlerResult<DescribeClientQuotasResponse>>(new DescribeClientQuotasResponse
            {
                ErrorCode = (short)ErrorCode.InvalidRequest,
                ErrorMessage = error,
                Entries = null,
            });
        }

        var response = new DescribeClientQuotasResponse { ErrorMessage = null };
        foreach (var (entity, values) in broker.Metadata.ClientQuotas.OrderBy(q => q.Key.ToString(), StringComparer.Ordinal))
        {
            var parts = entity.Parts;
            if (!Matches(parts, request.Components, request.Strict))
            {
                continue;
            }

            response.Entries!.Add(new DescribeClientQuotasResponse.EntryData
            {
                Entity = [.. parts.Select(p => new DescribeClientQuotasResponse.EntityData { EntityType = p.Type, EntityName = p.Name })],
                Values = [.. values.OrderBy(v => v.Key, StringComparer.Ordinal).Select(v => new DescribeClientQuotasResponse.ValueData { Key = v.Key, Value = v.Value })],
            });
        }

        return ValueTask.FromResult<HandlerResult<DescribeClientQuotasResponse>>(response);
    }

    private static bool Matches(IReadOnlyList<(string Type, string? Name)> parts, List<DescribeClientQuotasRequest.ComponentData> components, bool strict)
    {
        if (strict && parts.Count != components.Count)
        {
            return false;
        }

        foreach (var component in components)
        {
            if (!parts.Any(p => p.Type == component.EntityType))
            {
                return false;
            }

            var name = parts.First(p => p.Type == component.EntityType).Name;
            var matches = component.MatchType switch
            {
                MatchExact => name == component.Match,
                MatchDefault => name is null,
                _ => true,
            };
            if (!matches)
            {
                return false;
            }
        }

        return true;
    }

    private static string? Check(List<DescribeClientQuotasRequest.ComponentData> components)
    {
        var types = new HashSet<string>(StringComparer.Ordinal);
        foreach (var component in components)
        {
            if (component.EntityType is not (ClientQuotaEntity.UserType or ClientQuotaEntity.ClientIdType or ClientQuotaEntity.IpType))
            {
                return $"Custom entity type {component.EntityType} not supported";
            }

            if (!types.Add(component.EntityType))
            {
                return $"Entity type {component.EntityType} cannot appear more than once in the filter.";
            }

            switch (component.MatchType)
            {
                case MatchExact when component.Match is null:
                    return $"Request specified match type EXACT without a name for {component.EntityType}";
                case MatchExact or MatchDefault or MatchSpecified:
                    break;
                default:
                    return $"Unknown match type {component.MatchType}";
            }
        }

        return types.Contains(ClientQuotaEntity.IpType) && types.Count > 1 ? "Ip filter cannot be combined with user or client filters." : null;
    }

    protected override DescribeClientQuotasResponse? ErrorResponse(RequestContext context, DescribeClientQuotasRequest request, ErrorCode error) =>
        new() { ErrorCode = (short)error, ErrorMessage = null, Entries = null };
}
