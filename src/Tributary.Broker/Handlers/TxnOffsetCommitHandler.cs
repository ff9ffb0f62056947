using Tributary.Broker.Dispatch;
using Tributary.Broker.Groups;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// TxnOffsetCommit v0-4 (TransactionCoordinator.CommitOffsets).
// Behaviour:
// - Authorization: WRITE on the transactional id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED), READ on the
//   group (else GROUP_AUTHORIZATION_FAILED), READ on each topic (else TOPIC_AUTHORIZATION_FAILED, not committed).
// - The offsets stay with the transaction (persisted in __transaction_state) and reach the group only when EndTxn
//   commits (a null metadata as ""); an abort drops them.
// - The group must have been added with AddOffsetsToTxn and the transaction must be ongoing (else
//   INVALID_TXN_STATE); a stale epoch is INVALID_PRODUCER_EPOCH, an unknown transactional id or producer id
//   INVALID_PRODUCER_ID_MAPPING.
// - v3+ member id, generation and group instance id are checked as Kafka's group coordinator checks them when the
//   offsets are sent: UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, ILLEGAL_GENERATION (also for a consumer group's stale
//   member epoch, and for a generation given to a group that does not exist). A classic group accepts generation -1
//   without a member (v0-2) whatever its state. Unlike OffsetCommit, it does not refresh the member's session.
public sealed class TxnOffsetCommitHandler(BrokerCore broker) : ApiHandler<TxnOffsetCommitRequest, TxnOffsetCommitResponse>(ApiKey.TxnOffsetCommit, 0, 4)
{
    protected override ValueTask<HandlerResult<TxnOffsetCommitResponse>> HandleAsync(RequestContext context, TxnOffsetCommitRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.Authorize(context, AclOperation.Write, AclResourceType.TransactionalId, request.TransactionalId))
        {
            return ValueTask.FromResult<HandlerResult<TxnOffsetCommitResponse>>(ErrorResponse(context, request, ErrorCode.TransactionalIdAuthorizationFailed)!);
        }

        if (!broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Group, request.GroupId))
        {
            return ValueTask.FromResult<HandlerResult<TxnOffsetCommitResponse>>(ErrorResponse(context, request, ErrorCode.GroupAuthorizationFailed)!);
        }

        var readable = request.Topics.Select(t => t.Name).Distinct(StringComparer.Ordinal)
            .Where(n => broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Topic, n)).ToHashSet(StringComparer.Ordinal);
        var entries = request.Topics
            .Where(t => readable.Contains(t.Name))
            .SelectMany(t => t.Partitions.Select(p => new OffsetCommitEntry(t.Name, p.PartitionIndex, p.CommittedOffset, p.CommittedLeaderEpoch, p.CommittedMetadata)))
            .ToList();
        var results = broker.Transactions.CommitOffsets(request.TransactionalId, new OffsetCommitter(request.GroupId, request.GenerationId, request.MemberId, request.GroupInstanceId), request.ProducerId, request.ProducerEpoch, entries);
        var i = 0;
        var response = new TxnOffsetCommitResponse();
        foreach (var topic in request.Topics)
        {
            var topicResponse = new TxnOffsetCommitResponse.TxnOffsetCommitResponseTopic { Name = topic.Name };
            foreach (var partition in topic.Partitions)
            {
                topicResponse.Partitions.Add(new TxnOffsetCommitResponse.TxnOffsetCommitResponsePartition { PartitionIndex = partition.PartitionIndex, ErrorCode = (short)(readable.Contains(topic.Name) ? results[i++] : ErrorCode.TopicAuthorizationFailed) });
            }

            response.Topics.Add(topicResponse);
        }

        return ValueTask.FromResult<HandlerResult<TxnOffsetCommitResponse>>(response);
    }

    protected override IEnumerable<string> CoordinatorKeys(TxnOffsetCommitRequest request) => [request.GroupId];

    protected override TxnOffsetCommitResponse? ErrorResponse(RequestContext context, TxnOffsetCommitRequest request, ErrorCode error) => new()
    {
        Topics = [.. request.Topics.Select(t => new TxnOffsetCommitResponse.TxnOffsetCommitResponseTopic
        {
            Name = t.Name,
            Partitions = [.. t.Partitions.Select(p => new TxnOffsetCommitResponse.TxnOffsetCommitResponsePartition { PartitionIndex = p.PartitionIndex, ErrorCode = (short)error })],
        })],
    };
}
