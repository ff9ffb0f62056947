using Tributary.Broker.Dispatch;
using Tributary.Broker.Groups;
using Tributary.Broker.ShareGroups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// ShareGroupHeartbeat v1 (KIP-932).
// Behaviour:
// - Authorization: READ on the group (else GROUP_AUTHORIZATION_FAILED); DESCRIBE on every subscribed topic name (else
//   TOPIC_AUTHORIZATION_FAILED).
// - Epoch 0 joins (SubscribedTopicNames required), -1 leaves (its share session stays until the client closes it
//   with its last acknowledgements); otherwise the epoch must be the member's (FENCED_MEMBER_EPOCH). The member id is the client's.
// - The broker assigns with Kafka's "simple" share assignor: several members may read one partition. The group epoch
//   bumps on joins, leaves, expiries, subscription changes and when a subscribed topic appears or grows (checked on every
//   heartbeat); a member gets its new assignment, with the assignment epoch as its epoch, at its next heartbeat.
// - Sessions expire after share.session.timeout.ms (group config, else group.share.session.timeout.ms); the response
//   carries share.heartbeat.interval.ms.
// - Errors: INVALID_GROUP_ID, INVALID_REQUEST (empty member id, epoch below -1, a join without topics),
//   UNKNOWN_MEMBER_ID, FENCED_MEMBER_EPOCH, GROUP_MAX_SIZE_REACHED (group.share.max.size), GROUP_ID_NOT_FOUND when a
//   classic or consumer group has the id.
// Deviations from Kafka:
// - A non-zero epoch for an unknown group gets UNKNOWN_MEMBER_ID (Kafka: GROUP_ID_NOT_FOUND), so members rejoin. The
//   assignor is not sticky across membership changes.
// Cluster mode: served by the group coordinator (the leader of __consumer_offsets, where membership is written);
// NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS elsewhere (HandlerCatalog).
public sealed class ShareGroupHeartbeatHandler(BrokerCore broker) : ApiHandler<ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse>(ApiKey.ShareGroupHeartbeat, 1, 1)
{
    protected override async ValueTask<HandlerResult<ShareGroupHeartbeatResponse>> HandleAsync(RequestContext context, ShareGroupHeartbeatRequest request, CancellationToken cancellationToken)
    {
        if (broker.Authorizer.HeartbeatDenied(context, request.GroupId, request.SubscribedTopicNames) is var denied and not ErrorCode.None)
        {
            return ErrorResponse(context, request, denied)!;
        }

        var result = broker.ShareGroups.Heartbeat(new ShareGroupHeartbeatParameters(
            request.GroupId, request.MemberId, request.MemberEpoch, request.RackId, request.SubscribedTopicNames, context.ClientId ?? "", context.ClientHost));

        // Cluster mode: answered once the ISR of __consumer_offsets has the membership written, as Kafka's coordinator
        // writes with acks=all, so that a new coordinator loads what the member was told.
        if (result.Error == ErrorCode.None && await broker.ReplicateCoordinatorWriteAsync(OffsetsTopicStore.TopicName, broker.CoordinatorPartitionFor(OffsetsTopicStore.TopicName, request.GroupId)).ConfigureAwait(false) is var replicated and not ErrorCode.None)
        {
            return ErrorResponse(context, request, replicated)!;
        }

        var response = new ShareGroupHeartbeatResponse
        {
            ErrorCode = (short)result.Error,
            ErrorMessage = result.ErrorMessage,
            MemberId = result.MemberId,
            MemberEpoch = result.MemberEpoch,
            HeartbeatIntervalMs = result.HeartbeatIntervalMs,
        };
        if (result.Assignment is not null)
        {
            response.Assignment = new ShareGroupHeartbeatResponse.AssignmentData
            {
                TopicPartitions = [.. result.Assignment.Select(t => new ShareGroupHeartbeatResponse.TopicPartitions { TopicId = t.TopicId, Partitions = [.. t.Partitions] })],
            };
        }

        return response;
    }

    protected override IEnumerable<string> CoordinatorKeys(ShareGroupHeartbeatRequest request) => [request.GroupId];

    protected override ShareGroupHeartbeatResponse? ErrorResponse(RequestContext context, ShareGroupHeartbeatRequest request, ErrorCode error) => new()
    {
        ErrorCode = (short)error,
        MemberId = request.MemberId,
        MemberEpoch = request.MemberEpoch,
    };
}
