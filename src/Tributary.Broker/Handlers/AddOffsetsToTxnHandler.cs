using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// AddOffsetsToTxn v0-4 (TransactionCoordinator.AddOffsets).
// Behaviour:
// - Authorization: WRITE on the transactional id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED), then READ on
//   the group (else GROUP_AUTHORIZATION_FAILED).
// - Adds a consumer group to the ongoing transaction (starting one if needed) so TxnOffsetCommit may send its
//   offsets. Errors as AddPartitionsToTxn (PRODUCER_FENCED from v2).
// Deviations from Kafka:
// - Kafka adds the group's __consumer_offsets partition to the transaction and writes a marker there at the end; here
//   the coordinator keeps the offsets with the transaction and applies them to the group when it commits, so no
//   marker goes to __consumer_offsets and DescribeTransactions does not list that partition.
public sealed class AddOffsetsToTxnHandler(BrokerCore broker) : ApiHandler<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse>(ApiKey.AddOffsetsToTxn, 0, 4)
{
    protected override ValueTask<HandlerResult<AddOffsetsToTxnResponse>> HandleAsync(RequestContext context, AddOffsetsToTxnRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.Authorize(context, AclOperation.Write, AclResourceType.TransactionalId, request.TransactionalId))
        {
            return ValueTask.FromResult<HandlerResult<AddOffsetsToTxnResponse>>(ErrorResponse(context, request, ErrorCode.TransactionalIdAuthorizationFailed)!);
        }

        if (!broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Group, request.GroupId))
        {
            return ValueTask.FromResult<HandlerResult<AddOffsetsToTxnResponse>>(ErrorResponse(context, request, ErrorCode.GroupAuthorizationFailed)!);
        }

        var error = broker.Transactions.AddOffsets(request.TransactionalId, request.ProducerId, request.ProducerEpoch, request.GroupId, fencedErrorSupported: context.ApiVersion >= 2);
        return ValueTask.FromResult<HandlerResult<AddOffsetsToTxnResponse>>(new AddOffsetsToTxnResponse { ErrorCode = (short)error });
    }

    protected override IEnumerable<string> CoordinatorKeys(AddOffsetsToTxnRequest request) => [request.TransactionalId];

    protected override AddOffsetsToTxnResponse? ErrorResponse(RequestContext context, AddOffsetsToTxnRequest request, ErrorCode error) => new() { ErrorCode = (short)error };
}
