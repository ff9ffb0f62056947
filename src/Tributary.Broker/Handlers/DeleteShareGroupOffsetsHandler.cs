using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// DeleteShareGroupOffsets v0 (KIP-932).
// Behaviour:
// - Authorization: DELETE on the group (else GROUP_AUTHORIZATION_FAILED at the top level); READ on each topic (else
//   TOPIC_AUTHORIZATION_FAILED for that topic, whose state stays).
// - Drops a share group's state of whole topics (tombstones in __share_group_state): the next ShareFetch starts them
//   again from share.auto.offset.reset. In cluster mode it is served by the group coordinator (NOT_COORDINATOR
//   elsewhere), which deletes every partition's state of the topics at the share coordinator.
// - Errors: INVALID_GROUP_ID, GROUP_ID_NOT_FOUND (no share group of that id), NON_EMPTY_GROUP while it has members (top
//   level); per topic UNKNOWN_TOPIC_OR_PARTITION.
public sealed class DeleteShareGroupOffsetsHandler(BrokerCore broker) : ApiHandler<DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse>(ApiKey.DeleteShareGroupOffsets, 0, 0)
{
    protected override ValueTask<HandlerResult<DeleteShareGroupOffsetsResponse>> HandleAsync(RequestContext context, DeleteShareGroupOffsetsRequest request, CancellationToken cancellationToken)
    {
        var shares = broker.ShareGroups;
        var groupId = request.GroupId;
        var error = !broker.Authorizer.Authorize(context, AclOperation.Delete, AclResourceType.Group, groupId) ? ErrorCode.GroupAuthorizationFailed
            : groupId.Length == 0 ? ErrorCode.InvalidGroupId
            : !shares.IsShareGroup(groupId) ? ErrorCode.GroupIdNotFound
            : shares.HasMembers(groupId) ? ErrorCode.NonEmptyGroup
            : ErrorCode.None;
        if (error != ErrorCode.None)
        {
            return ValueTask.FromResult<HandlerResult<DeleteShareGroupOffsetsResponse>>(ErrorResponse(context, request, error));
        }

        var response = new DeleteShareGroupOffsetsResponse();
        var deleted = new List<Metadata.TopicInfo>();
        foreach (var t in request.Topics)
        {
            var readable = broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Topic, t.TopicName);
            var topic = readable ? broker.Metadata.Find(t.TopicName) : null;
            response.Responses.Add(new DeleteShareGroupOffsetsResponse.DeleteShareGroupOffsetsResponseTopic
            {
                TopicName = t.TopicName,
                TopicId = topic?.Id ?? Guid.Empty,
                ErrorCode = (short)(!readable ? ErrorCode.TopicAuthorizationFailed : topic is null ? ErrorCode.UnknownTopicOrPartition : ErrorCode.None),
            });
            if (topic is not null)
            {
                deleted.Add(topic);
            }
        }

        if (!shares.DeletePartitions(groupId, deleted))
        {
            return ValueTask.FromResult<HandlerResult<DeleteShareGroupOffsetsResponse>>(ErrorResponse(context, request, ErrorCode.CoordinatorNotAvailable));
        }

        return ValueTask.FromResult<HandlerResult<DeleteShareGroupOffsetsResponse>>(response);
    }

    protected override IEnumerable<string> CoordinatorKeys(DeleteShareGroupOffsetsRequest request) => [request.GroupId];

    protected override DeleteShareGroupOffsetsResponse ErrorResponse(RequestContext context, DeleteShareGroupOffsetsRequest request, ErrorCode error) => new()
    {
        ErrorCode = (short)error,
        Responses = [.. request.Topics.Select(t => new DeleteShareGroupOffsetsResponse.DeleteShareGroupOffsetsResponseTopic { TopicName = t.TopicName, ErrorCode = (short)error })],
    };
}
