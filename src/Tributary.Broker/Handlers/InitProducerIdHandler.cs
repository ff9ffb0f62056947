using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// InitProducerId v0-5 (TransactionCoordinator.InitProducerId).
// Behaviour:
// - Authorization: WRITE on the transactional id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED); without one,
//   IDEMPOTENT_WRITE on the cluster or WRITE on any topic (else CLUSTER_AUTHORIZATION_FAILED).
// - A null transactional id gets a fresh producer id at epoch 0 (idempotent producer).
// - A transactional id keeps its producer id and gets its epoch bumped, which fences older producers of that id and
//   aborts a transaction they left open.
// - transaction_timeout_ms must be 1 to transaction.max.timeout.ms (else INVALID_TRANSACTION_TIMEOUT).
// - Producer ids are unique across restarts (ProducerIdManager); in cluster mode across the cluster, from blocks
//   reserved in etcd (ProducerIdBlocks), and COORDINATOR_LOAD_IN_PROGRESS (retriable) while no block is ready.
// Versions:
// - v3+ may pass the current producer id and epoch (KIP-360): a mismatched id is INVALID_PRODUCER_ID_MAPPING, a stale
//   epoch PRODUCER_FENCED (v4+; INVALID_PRODUCER_EPOCH before).
// - With a null transactional id a given producer id and epoch are ignored and a new id is handed out, as Kafka does
//   for non-transactional producers.
public sealed class InitProducerIdHandler(BrokerCore broker) : ApiHandler<InitProducerIdRequest, InitProducerIdResponse>(ApiKey.InitProducerId, 0, 5)
{
    protected override ValueTask<HandlerResult<InitProducerIdResponse>> HandleAsync(RequestContext context, InitProducerIdRequest request, CancellationToken cancellationToken)
    {
        // Kafka: a transactional producer needs WRITE on its id; an idempotent one IDEMPOTENT_WRITE on the cluster or
        // WRITE on some topic (KIP-679).
        var denied = request.TransactionalId is { } transactionalId
            ? !broker.Authorizer.Authorize(context, AclOperation.Write, AclResourceType.TransactionalId, transactionalId) ? ErrorCode.TransactionalIdAuthorizationFailed : ErrorCode.None
            : !broker.Authorizer.AuthorizeCluster(context, AclOperation.IdempotentWrite) && !broker.Authorizer.AuthorizeAny(context.Connection, AclOperation.Write, AclResourceType.Topic)
                ? ErrorCode.ClusterAuthorizationFailed : ErrorCode.None;
        if (denied != ErrorCode.None)
        {
            return ValueTask.FromResult<HandlerResult<InitProducerIdResponse>>(ErrorResponse(context, request, denied)!);
        }

        var (error, producerId, epoch) = broker.Transactions.InitProducerId(
            request.TransactionalId, request.TransactionTimeoutMs, request.ProducerId, request.ProducerEpoch, fencedErrorSupported: context.ApiVersion >= 4);
        return ValueTask.FromResult<HandlerResult<InitProducerIdResponse>>(new InitProducerIdResponse { ErrorCode = (short)error, ProducerId = producerId, ProducerEpoch = epoch });
    }

    protected override InitProducerIdResponse? ErrorResponse(RequestContext context, InitProducerIdRequest request, ErrorCode error) =>
        new() { ErrorCode = (short)error, ProducerId = -1, ProducerEpoch = -1 };
}
