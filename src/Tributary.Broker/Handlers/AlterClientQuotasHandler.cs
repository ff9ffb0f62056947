using Tributary.Broker.Dispatch;
using Tributary.Broker.Quotas;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// AlterClientQuotas v0-1 (KIP-546).
// Behaviour:
// - Each entry names an entity (user, client-id or both; a null name is the <default> entity) and sets or removes
//   producer_byte_rate, consumer_byte_rate, request_percentage or controller_mutation_rate. Removing a key that is
//   not set is not an error.
// - INVALID_REQUEST, per entry, as Kafka answers it: an empty entity, an unknown or repeated entity type, an empty
//   name, an unknown key, a key repeated in one entry, a fraction for a byte rate. An entry with an error changes
//   nothing; the others are stored together in one durable write (none with validate_only).
// - Quotas apply to the next request of every connection: the quota manager reads them from the metadata store.
// Deviations:
// - The ip entity (connection_creation_rate) is refused with INVALID_REQUEST; quota values must be positive.
// Versions:
// - v0-1 (v1 flexible).
public sealed class AlterClientQuotasHandler(BrokerCore broker)
    : ApiHandler<AlterClientQuotasRequest, AlterClientQuotasResponse>(ApiKey.AlterClientQuotas, 0, 1)
{
    protected override ValueTask<HandlerResult<AlterClientQuotasResponse>> HandleAsync(RequestContext context, AlterClientQuotasRequest request, CancellationToken cancellationToken)
    {
        var response = new AlterClientQuotasResponse();
        var changes = new List<(ClientQuotaEntity Entity, string Key, double? Value)>();
        foreach (var entry in request.Entries)
        {
            var error = ClientQuotaEntities.Parse(entry.Entity.Select(e => (e.EntityType, e.EntityName)), out var entity) ?? CheckOps(entry.Ops);
            if (error is null)
            {
                changes.AddRange(entry.Ops.Select(op => (entity, op.Key, op.Remove ? null : (double?)op.Value)));
            }

            response.Entries.Add(new AlterClientQuotasResponse.EntryData
            {
                ErrorCode = (short)(error is null ? ErrorCode.None : ErrorCode.InvalidRequest),
                ErrorMessage = error,
                Entity = [.. entry.Entity.Select(e => new AlterClientQuotasResponse.EntityData { EntityType = e.EntityType, EntityName = e.EntityName })],
            });
        }

        if (!request.ValidateOnly && changes.Count > 0)
        {
            broker.Metadata.AlterClientQuotas(changes);
        }

        return ValueTask.FromResult<HandlerResult<AlterClientQuotasResponse>>(response);
    }

    private static string? CheckOps(List<AlterClientQuotasRequest.OpData> ops)
    {
        if (ops.GroupBy(op => op.Key).FirstOrDefault(g => g.Count() > 1) is { } repeated)
        {
            return $"Duplicate quota key {repeated.Key} in one entity";
        }

        return ops.Select(op => op.Remove ? (ClientQuotaKeys.Parse(op.Key) is null ? $"Invalid configuration key {op.Key}" : null) : ClientQuotaKeys.Check(op.Key, op.Value))
            .FirstOrDefault(e => e is not null);
    }

    protected override AlterClientQuotasResponse? ErrorResponse(RequestContext context, AlterClientQuotasRequest request, ErrorCode error) => new()
    {
        Entries = [.. request.Entries.Select(entry => new AlterClientQuotasResponse.EntryData
        {
            ErrorCode = (short)error,
            ErrorMessage = null,
            Entity = [.. entry.Entity.Select(e => new AlterClientQuotasResponse.EntityData { EntityType = e.EntityType, EntityName = e.EntityName })],
        })],
    };
}
