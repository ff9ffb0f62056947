using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// DescribeTransactions v0 (KIP-664).
// Behaviour:
// - Authorization: DESCRIBE on each transactional id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED); topics
//   without DESCRIBE are left out of its partitions.
// - State, producer id and epoch, timeout, start time (-1 outside a transaction) and partitions of each
//   transactional id; TRANSACTIONAL_ID_NOT_FOUND for an unknown one.
// - Cluster mode: an id whose __transaction_state partition another broker leads answers NOT_COORDINATOR in its own
//   entry (COORDINATOR_LOAD_IN_PROGRESS while that partition loads here); the others are described.
public sealed class DescribeTransactionsHandler(BrokerCore broker) : ApiHandler<DescribeTransactionsRequest, DescribeTransactionsResponse>(ApiKey.DescribeTransactions, 0, 0)
{
    protected override ValueTask<HandlerResult<DescribeTransactionsResponse>> HandleAsync(RequestContext context, DescribeTransactionsRequest request, CancellationToken cancellationToken)
    {
        var response = new DescribeTransactionsResponse();
        foreach (var id in request.TransactionalIds)
        {
            if (!broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.TransactionalId, id))
            {
                response.TransactionStates.Add(new DescribeTransactionsResponse.TransactionStateData { TransactionalId = id, ErrorCode = (short)ErrorCode.TransactionalIdAuthorizationFailed, TransactionState = "", ProducerId = -1, ProducerEpoch = -1, TransactionStartTimeMs = -1 });
                continue;
            }

            if (CoordinatorErrorOf(id) is var notHere and not ErrorCode.None)
            {
                response.TransactionStates.Add(new DescribeTransactionsResponse.TransactionStateData { TransactionalId = id, ErrorCode = (short)notHere, TransactionState = "", ProducerId = -1, ProducerEpoch = -1, TransactionStartTimeMs = -1 });
                continue;
            }

            var described = broker.Transactions.Describe(id);
            response.TransactionStates.Add(described is null
                ? new DescribeTransactionsResponse.TransactionStateData { TransactionalId = id, ErrorCode = (short)ErrorCode.TransactionalIdNotFound, TransactionState = "", ProducerId = -1, ProducerEpoch = -1, TransactionStartTimeMs = -1 }
                : new DescribeTransactionsResponse.TransactionStateData
                {
                    TransactionalId = id,
                    TransactionState = described.State.ToString(),
                    TransactionTimeoutMs = described.TimeoutMs,
                    TransactionStartTimeMs = described.StartTimeMs,
                    ProducerId = described.ProducerId,
                    ProducerEpoch = described.ProducerEpoch,
                    Topics = [.. described.Partitions.GroupBy(p => p.Topic, StringComparer.Ordinal)
                        .Where(g => broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Topic, g.Key)).Select(g => new DescribeTransactionsResponse.TopicData { Topic = g.Key, Partitions = [.. g.Select(p => p.Partition)] })],
                });
        }

        return ValueTask.FromResult<HandlerResult<DescribeTransactionsResponse>>(response);
    }

    protected override IEnumerable<string> CoordinatorKeys(DescribeTransactionsRequest request) => request.TransactionalIds;

    protected override bool AnswersPerKey(RequestContext context, DescribeTransactionsRequest request) => true;

    protected override DescribeTransactionsResponse? ErrorResponse(RequestContext context, DescribeTransactionsRequest request, ErrorCode error) => new()
    {
        TransactionStates = [.. request.TransactionalIds.Select(id => new DescribeTransactionsResponse.TransactionStateData { TransactionalId = id, ErrorCode = (short)error, TransactionState = "" })],
    };
}
