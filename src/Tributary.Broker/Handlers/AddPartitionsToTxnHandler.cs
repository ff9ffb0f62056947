using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// AddPartitionsToTxn v0-5 (TransactionCoordinator.AddPartitions).
// Behaviour:
// - Authorization: v0-3: WRITE on the transactional id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and on
//   each topic (else TOPIC_AUTHORIZATION_FAILED, the others OPERATION_NOT_ATTEMPTED); v4+: CLUSTER_ACTION on the cluster.
// - Errors: INVALID_PRODUCER_ID_MAPPING (unknown transactional id or another producer id), PRODUCER_FENCED for a
//   stale epoch, CONCURRENT_TRANSACTIONS while one completes, UNKNOWN_TOPIC_OR_PARTITION with
//   OPERATION_NOT_ATTEMPTED for the rest.
// - A transactional batch to a partition that was not added is refused by Produce (INVALID_TXN_STATE), as KIP-890's
//   verification does.
// Versions:
// - v0-3 (clients): one transaction, one error per partition; PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH before.
// - v4+ (KIP-890, broker to broker): a batch of transactions, each with verify_only; a verify-only transaction adds
//   nothing and answers, per partition, NONE when it is in the ongoing transaction, else INVALID_TXN_STATE. In cluster
//   mode a transactional id this broker does not coordinate answers NOT_COORDINATOR (COORDINATOR_LOAD_IN_PROGRESS while
//   its partition loads) for each of its partitions, the other transactions their result.
public sealed class AddPartitionsToTxnHandler(BrokerCore broker) : ApiHandler<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse>(ApiKey.AddPartitionsToTxn, 0, 5)
{
    protected override ValueTask<HandlerResult<AddPartitionsToTxnResponse>> HandleAsync(RequestContext context, AddPartitionsToTxnRequest request, CancellationToken cancellationToken)
    {
        var fenced = context.ApiVersion >= 2;
        if (context.ApiVersion <= 3)
        {
            if (Denied(context, request) is { } denied)
            {
                return ValueTask.FromResult<HandlerResult<AddPartitionsToTxnResponse>>(new AddPartitionsToTxnResponse { ResultsByTopicV3AndBelow = ToTopicResults(request.V3AndBelowTopics, denied) });
            }

            var (_, results) = broker.Transactions.AddPartitions(
                request.V3AndBelowTransactionalId, request.V3AndBelowProducerId, request.V3AndBelowProducerEpoch, Flatten(request.V3AndBelowTopics), verifyOnly: false, fenced);
            return ValueTask.FromResult<HandlerResult<AddPartitionsToTxnResponse>>(new AddPartitionsToTxnResponse { ResultsByTopicV3AndBelow = ToTopicResults(request.V3AndBelowTopics, results) });
        }

        // v4+ comes from brokers verifying a produce (KIP-890): Kafka asks for CLUSTER_ACTION.
        if (!broker.Authorizer.AuthorizeCluster(context, AclOperation.ClusterAction))
        {
            return ValueTask.FromResult<HandlerResult<AddPartitionsToTxnResponse>>(ErrorResponse(context, request, ErrorCode.ClusterAuthorizationFailed)!);
        }

        var response = new AddPartitionsToTxnResponse();
        foreach (var transaction in request.Transactions)
        {
            IReadOnlyDictionary<(string Topic, int Partition), ErrorCode> results = CoordinatorErrorOf(transaction.TransactionalId) is var notHere and not ErrorCode.None
                ? Flatten(transaction.Topics).Distinct().ToDictionary(p => p, _ => notHere)
                : broker.Transactions.AddPartitions(
                    transaction.TransactionalId, transaction.ProducerId, transaction.ProducerEpoch, Flatten(transaction.Topics), transaction.VerifyOnly, fenced).Results;
            response.ResultsByTransaction.Add(new AddPartitionsToTxnResponse.AddPartitionsToTxnResult
            {
                TransactionalId = transaction.TransactionalId,
                TopicResults = ToTopicResults(transaction.Topics, results),
            });
        }

        return ValueTask.FromResult<HandlerResult<AddPartitionsToTxnResponse>>(response);
    }

    // As Kafka: without WRITE on the transactional id every partition fails with TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    // with it, partitions of topics without WRITE get TOPIC_AUTHORIZATION_FAILED and the rest OPERATION_NOT_ATTEMPTED.
    private Dictionary<(string Topic, int Partition), ErrorCode>? Denied(RequestContext context, AddPartitionsToTxnRequest request)
    {
        var partitions = Flatten(request.V3AndBelowTopics).Distinct().ToList();
        if (!broker.Authorizer.Authorize(context, AclOperation.Write, AclResourceType.TransactionalId, request.V3AndBelowTransactionalId))
        {
            return partitions.ToDictionary(p => p, _ => ErrorCode.TransactionalIdAuthorizationFailed);
        }

        var denied = partitions.Select(p => p.Topic).Distinct(StringComparer.Ordinal)
            .Where(t => !broker.Authorizer.Authorize(context, AclOperation.Write, AclResourceType.Topic, t)).ToHashSet(StringComparer.Ordinal);
        return denied.Count == 0 ? null : partitions.ToDictionary(p => p, p => denied.Contains(p.Topic) ? ErrorCode.TopicAuthorizationFailed : ErrorCode.OperationNotAttempted);
    }

    private static List<(string Topic, int Partition)> Flatten(List<AddPartitionsToTxnRequest.AddPartitionsToTxnTopic> topics) =>
        [.. topics.SelectMany(t => t.Partitions.Select(p => (t.Name, p)))];

    private static List<AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult> ToTopicResults(
        List<AddPartitionsToTxnRequest.AddPartitionsToTxnTopic> topics, IReadOnlyDictionary<(string Topic, int Partition), ErrorCode> results) =>
        [.. topics.Select(t => new AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult
        {
            Name = t.Name,
            ResultsByPartition = [.. t.Partitions.Select(p => new AddPartitionsToTxnResponse.AddPartitionsToTxnPartitionResult
            {
                PartitionIndex = p,
                PartitionErrorCode = (short)results.GetValueOrDefault((t.Name, p), ErrorCode.None),
            })],
        })];

    protected override IEnumerable<string> CoordinatorKeys(AddPartitionsToTxnRequest request) => request.Transactions.Count > 0 ? request.Transactions.Select(t => t.TransactionalId) : [request.V3AndBelowTransactionalId];

    protected override bool AnswersPerKey(RequestContext context, AddPartitionsToTxnRequest request) => context.ApiVersion >= 4;

    protected override AddPartitionsToTxnResponse? ErrorResponse(RequestContext context, AddPartitionsToTxnRequest request, ErrorCode error)
    {
        if (context.ApiVersion <= 3)
        {
            var all = Flatten(request.V3AndBelowTopics).Distinct().ToDictionary(p => p, _ => error);
            return new AddPartitionsToTxnResponse { ResultsByTopicV3AndBelow = ToTopicResults(request.V3AndBelowTopics, all) };
        }

        return new AddPartitionsToTxnResponse { ErrorCode = (short)error };
    }
}
