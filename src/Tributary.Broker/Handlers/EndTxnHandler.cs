using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// EndTxn v0-4 (TransactionCoordinator.EndTransaction).
// Behaviour:
// - Authorization: WRITE on the transactional id, else TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
// - Commits or aborts the ongoing transaction: a commit or abort control batch into each of its partitions and, on
//   commit, its TxnOffsetCommit offsets applied to the group; it answers once all of that is written (single node:
//   no asynchronous marker writes).
// - A retry after completion answers NONE; no ongoing transaction, or the opposite outcome, is INVALID_TXN_STATE.
// - A stale epoch is PRODUCER_FENCED (v2+; INVALID_PRODUCER_EPOCH before).
// Versions:
// - v5 (KIP-890 part 2, an epoch bump per transaction, unstable in the schema) is not advertised.
public sealed class EndTxnHandler(BrokerCore broker) : ApiHandler<EndTxnRequest, EndTxnResponse>(ApiKey.EndTxn, 0, 4)
{
    protected override ValueTask<HandlerResult<EndTxnResponse>> HandleAsync(RequestContext context, EndTxnRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.Authorize(context, AclOperation.Write, AclResourceType.TransactionalId, request.TransactionalId))
        {
            return ValueTask.FromResult<HandlerResult<EndTxnResponse>>(ErrorResponse(context, request, ErrorCode.TransactionalIdAuthorizationFailed)!);
        }

        var error = broker.Transactions.EndTransaction(request.TransactionalId, request.ProducerId, request.ProducerEpoch, request.Committed, fencedErrorSupported: context.ApiVersion >= 2);
        return ValueTask.FromResult<HandlerResult<EndTxnResponse>>(new EndTxnResponse { ErrorCode = (short)error });
    }

    protected override IEnumerable<string> CoordinatorKeys(EndTxnRequest request) => [request.TransactionalId];

    protected override EndTxnResponse? ErrorResponse(RequestContext context, EndTxnRequest request, ErrorCode error) => new() { ErrorCode = (short)error };
}
