using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Broker.Transactions;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// ListTransactions v0-1 (KIP-664).
// Behaviour:
// - Authorization: only transactional ids with DESCRIBE are listed.
// - The transactional ids this broker coordinates (all on a single node; in cluster mode those of the
//   __transaction_state partitions it leads, so a client lists every broker, as with Kafka), filtered by state names
//   (names this broker does not know come back in unknown_state_filters) and by producer ids.
// - While one of those partitions loads: COORDINATOR_LOAD_IN_PROGRESS and no ids, as Kafka answers.
// Versions:
// - v1 (KIP-994) also filters by duration: only transactions running longer than duration_filter ms.
public sealed class ListTransactionsHandler(BrokerCore broker) : ApiHandler<ListTransactionsRequest, ListTransactionsResponse>(ApiKey.ListTransactions, 0, 1)
{
    protected override ValueTask<HandlerResult<ListTransactionsResponse>> HandleAsync(RequestContext context, ListTransactionsRequest request, CancellationToken cancellationToken)
    {
        if (broker.Transactions.LoadingAny)
        {
            return ValueTask.FromResult<HandlerResult<ListTransactionsResponse>>(ErrorResponse(context, request, ErrorCode.CoordinatorLoadInProgress)!);
        }

        var response = new ListTransactionsResponse();
        var states = new HashSet<TransactionState>();
        foreach (var name in request.StateFilters)
        {
            if (Enum.TryParse<TransactionState>(name, ignoreCase: false, out var state) && Enum.IsDefined(state) && !int.TryParse(name, out _))
            {
                states.Add(state);
            }
            else
            {
                response.UnknownStateFilters.Add(name);
            }
        }

        var producerIds = request.ProducerIdFilters.ToHashSet();
        var now = broker.NowMs;
        foreach (var t in broker.Transactions.List())
        {
            if ((request.StateFilters.Count == 0 || states.Contains(t.State))
                && (producerIds.Count == 0 || producerIds.Contains(t.ProducerId))
                && (request.DurationFilter < 0 || (t.StartTimeMs >= 0 && now - t.StartTimeMs > request.DurationFilter))
                && broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.TransactionalId, t.TransactionalId))
            {
                response.TransactionStates.Add(new ListTransactionsResponse.TransactionStateData { TransactionalId = t.TransactionalId, ProducerId = t.ProducerId, TransactionState = t.State.ToString() });
            }
        }

        return ValueTask.FromResult<HandlerResult<ListTransactionsResponse>>(response);
    }

    protected override ListTransactionsResponse? ErrorResponse(RequestContext context, ListTransactionsRequest request, ErrorCode error) => new() { ErrorCode = (short)error };
}
