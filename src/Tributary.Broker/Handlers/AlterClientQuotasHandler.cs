using Tributary.Broker.Cluster;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Quotas;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// AlterClientQuotas v0-1 (KIP-546).
// Behaviour:
// - Each entry names an entity (user, client-id or both; a null name is the <default> entity) and sets or removes
//   producer_byte_rate, consumer_byte_rate, request_percentage or controller_mutation_rate; or an ip entity (an IP
//   address or the default ip) and its connection_creation_rate (KIP-612). Removing a key that is not set is not an
//   error.
// - INVALID_REQUEST, per entry, as Kafka answers it: an empty entity, an unknown or repeated entity type, an empty
//   name, ip combined with user or client-id, an ip name that is not an IP address, a key the entity type does not
//   have, a key repeated in one entry, a fraction for a byte rate or connection_creation_rate. An entry with an
//   error changes nothing; the others are stored together in one durable write (none with validate_only).
// - Quotas apply to the next request of every connection (the quota manager reads them from the metadata store),
//   and connection_creation_rate to the next connection accepted.
// - Cluster mode: the change is one compare-and-swap on the cluster's quotas in etcd (ClusterNode.ClientQuotas.cs),
//   applied by every broker; etcd not committing it in time is REQUEST_TIMED_OUT for every valid entry, and nothing
//   is stored. Quotas past ClusterNode.ClientQuotasBytesMax are INVALID_REQUEST.
// Deviations:
// - Quota values must be positive; an ip entity names an IP literal, never a host name.
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
            var error = ClientQuotaEntities.Parse(entry.Entity.Select(e => (e.EntityType, e.EntityName)), out var entity) ?? CheckOps(entity, entry.Ops);
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

        if (!request.ValidateOnly && changes.Count > 0 && Store(changes, cancellationToken) is { } refused)
        {
            foreach (var entry in response.Entries.Where(e => e.ErrorCode == 0))
            {
                entry.ErrorCode = (short)refused.Error;
                entry.ErrorMessage = refused.Message;
            }
        }

        return ValueTask.FromResult<HandlerResult<AlterClientQuotasResponse>>(response);
    }

    // Cluster mode: one compare-and-swap on the cluster's quotas in etcd (every broker applies it); else the local store.
    // Null when stored, else the error of every entry that had none.
    private (ErrorCode Error, string Message)? Store(List<(ClientQuotaEntity Entity, string Key, double? Value)> changes, CancellationToken cancellationToken)
    {
        if (broker.Cluster is not { } cluster)
        {
            broker.Metadata.AlterClientQuotas(changes);
            return null;
        }

        try
        {
            using var etcdWait = ClusterNode.ChangeTimeout(0, cancellationToken);
            return cluster.AlterClientQuotasAsync(changes, etcdWait.Token).GetAwaiter().GetResult()
                ? null
                : (ErrorCode.InvalidRequest, $"the cluster's client quotas would pass {ClusterNode.ClientQuotasBytesMax} bytes");
        }
        catch (ClusterTimeoutException e)
        {
            // etcd did not commit the change, so nothing of it is stored; clients retry.
            return (ErrorCode.RequestTimedOut, e.Message);
        }
    }

    private static string? CheckOps(ClientQuotaEntity entity, List<AlterClientQuotasRequest.OpData> ops)
    {
        if (ops.GroupBy(op => op.Key).FirstOrDefault(g => g.Count() > 1) is { } repeated)
        {
            return $"Duplicate quota key {repeated.Key} in one entity";
        }

        return ops.Select(op => op.Remove ? (ClientQuotaKeys.IsKeyOf(entity, op.Key) ? null : $"Invalid configuration key {op.Key}") : ClientQuotaKeys.Check(entity, op.Key, op.Value))
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
