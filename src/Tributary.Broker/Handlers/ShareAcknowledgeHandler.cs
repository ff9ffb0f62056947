using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Broker.ShareGroups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// ShareAcknowledge v1-2 (KIP-932).
// Behaviour:
// - Authorization: READ on the group (else GROUP_AUTHORIZATION_FAILED at the top level); READ on each topic (else
//   TOPIC_AUTHORIZATION_FAILED on its partitions, whose acknowledgements are not applied).
// - Acknowledges records the member acquired through ShareFetch in its share session: ACCEPT (done), RELEASE (delivered
//   again, or archived once delivered share.delivery.count.limit times), REJECT and GAP (archived), RENEW (v2 with
//   IsRenewAck: the lock restarts). Each partition's batches apply all or nothing, and are written to
//   __share_group_state before the answer.
// - The epoch must be the session's next one; -1 applies the acknowledgements and then closes the session, releasing
//   what the member still holds. Epoch 0 is INVALID_SHARE_SESSION_EPOCH (only ShareFetch opens sessions).
// - Errors: top level INVALID_GROUP_ID, INVALID_REQUEST (no member id), SHARE_SESSION_NOT_FOUND,
//   INVALID_SHARE_SESSION_EPOCH; per partition INVALID_REQUEST (malformed batch), INVALID_RECORD_STATE (an offset the
//   member does not hold: never acquired, acknowledged already, released, expired, another member's),
//   UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_OR_PARTITION.
// Versions: v2 adds IsRenewAck and AcquisitionLockTimeoutMs.
public sealed class ShareAcknowledgeHandler(BrokerCore broker) : ApiHandler<ShareAcknowledgeRequest, ShareAcknowledgeResponse>(ApiKey.ShareAcknowledge, 1, 2)
{
    protected override ValueTask<HandlerResult<ShareAcknowledgeResponse>> HandleAsync(RequestContext context, ShareAcknowledgeRequest request, CancellationToken cancellationToken)
    {
        var shares = broker.ShareGroups;
        var groupId = request.GroupId ?? "";
        var memberId = request.MemberId ?? "";
        var error = !broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Group, groupId) ? ErrorCode.GroupAuthorizationFailed
            : groupId.Length == 0 ? ErrorCode.InvalidGroupId
            : memberId.Length == 0 ? ErrorCode.InvalidRequest
            : request.ShareSessionEpoch == 0 ? ErrorCode.InvalidShareSessionEpoch
            : request.ShareSessionEpoch == -1 ? shares.CheckSessionExists(groupId, memberId)
            : shares.UseSession(groupId, memberId, request.ShareSessionEpoch, [], []).Error;
        if (error != ErrorCode.None)
        {
            return ValueTask.FromResult<HandlerResult<ShareAcknowledgeResponse>>(new ShareAcknowledgeResponse { ErrorCode = (short)error });
        }

        var results = SharePartitionAcks.Apply(broker, groupId, memberId,
            request.Topics.SelectMany(t => t.Partitions.Select(p => (t.TopicId, p.PartitionIndex,
                (IReadOnlyList<AcknowledgementBatch>)[.. p.AcknowledgementBatches.Select(b => new AcknowledgementBatch(b.FirstOffset, b.LastOffset, b.AcknowledgeTypes))]))),
            SharePartitionAcks.Unreadable(broker, context, request.Topics.Select(t => t.TopicId)),
            renewAllowed: context.ApiVersion >= 2 && request.IsRenewAck);
        if (request.ShareSessionEpoch == -1)
        {
            shares.CloseSession(groupId, memberId);
        }

        var response = new ShareAcknowledgeResponse { AcquisitionLockTimeoutMs = context.ApiVersion >= 2 ? shares.SettingsFor(groupId).RecordLockDurationMs : 0 };
        foreach (var topic in request.Topics)
        {
            response.Responses.Add(new ShareAcknowledgeResponse.ShareAcknowledgeTopicResponse
            {
                TopicId = topic.TopicId,
                Partitions = [.. topic.Partitions.Select(p => new ShareAcknowledgeResponse.PartitionData
                {
                    PartitionIndex = p.PartitionIndex,
                    ErrorCode = (short)results.GetValueOrDefault((topic.TopicId, p.PartitionIndex)),
                    CurrentLeader = new ShareAcknowledgeResponse.LeaderIdAndEpoch { LeaderId = broker.NodeId, LeaderEpoch = 0 },
                })],
            });
        }

        return ValueTask.FromResult<HandlerResult<ShareAcknowledgeResponse>>(response);
    }

    protected override ShareAcknowledgeResponse? ErrorResponse(RequestContext context, ShareAcknowledgeRequest request, ErrorCode error) => new() { ErrorCode = (short)error };
}
