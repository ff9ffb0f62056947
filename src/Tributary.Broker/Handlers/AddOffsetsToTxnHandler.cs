using Tributary.Broker.Dispatch;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// AddOffsetsToTxn v0-4 (TransactionCoordinator.AddOffsets).
// Behaviour:
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
        var error = broker.Transactions.AddOffsets(request.TransactionalId, request.ProducerId, request.ProducerEpoch, request.GroupId, fencedErrorSupported: context.ApiVersion >= 2);
        return ValueTask.FromResult<HandlerResult<AddOffsetsToTxnResponse>>(new AddOffsetsToTxnResponse { ErrorCode = (short)error });
    }

    protected override AddOffsetsToTxnResponse? ErrorResponse(RequestContext context, AddOffsetsToTxnRequest request, ErrorCode error) => new() { ErrorCode = (short)error };
}
