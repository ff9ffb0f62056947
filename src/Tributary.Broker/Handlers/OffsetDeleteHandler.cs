using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// OffsetDelete v0 (KIP-496).
// Behaviour:
// - Authorization: DELETE on the group (else GROUP_AUTHORIZATION_FAILED) and READ on each topic (else
//   TOPIC_AUTHORIZATION_FAILED for its partitions).
// - Deletes committed offsets of a group; GROUP_ID_NOT_FOUND for an unknown group.
// - While the group has members, offsets of topics a member subscribes to (read from consumer-protocol metadata)
//   answer GROUP_SUBSCRIBED_TO_TOPIC, and a non-consumer group with members answers NON_EMPTY_GROUP.
// - Unknown topics or partitions get UNKNOWN_TOPIC_OR_PARTITION; deleting an offset never committed succeeds.
public sealed class OffsetDeleteHandler(BrokerCore broker) : ApiHandler<OffsetDeleteRequest, OffsetDeleteResponse>(ApiKey.OffsetDelete, 0, 0)
{
    protected override ValueTask<HandlerResult<OffsetDeleteResponse>> HandleAsync(RequestContext context, OffsetDeleteRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.Authorize(context, AclOperation.Delete, AclResourceType.Group, request.GroupId))
        {
            return ValueTask.FromResult<HandlerResult<OffsetDeleteResponse>>(ErrorResponse(context, request, ErrorCode.GroupAuthorizationFailed)!);
        }

        var readable = request.Topics.Select(t => t.Name).Distinct(StringComparer.Ordinal)
            .Where(n => broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Topic, n)).ToHashSet(StringComparer.Ordinal);
        var partitions = request.Topics.Where(t => readable.Contains(t.Name)).SelectMany(t => t.Partitions.Select(p => (t.Name, p.PartitionIndex))).ToList();
        var (groupError, results) = broker.Groups.DeleteOffsets(request.GroupId, partitions);
        if (groupError != ErrorCode.None)
        {
            return ValueTask.FromResult<HandlerResult<OffsetDeleteResponse>>(ErrorResponse(context, request, groupError));
        }

        var response = new OffsetDeleteResponse();
        var i = 0;
        foreach (var t in request.Topics)
        {
            var topic = new OffsetDeleteResponse.OffsetDeleteResponseTopic { Name = t.Name };
            response.Topics.Add(topic);
            foreach (var p in t.Partitions)
            {
                var error = readable.Contains(t.Name) ? results[i++] : ErrorCode.TopicAuthorizationFailed;
                topic.Partitions.Add(new OffsetDeleteResponse.OffsetDeleteResponsePartition { PartitionIndex = p.PartitionIndex, ErrorCode = (short)error });
            }
        }

        return ValueTask.FromResult<HandlerResult<OffsetDeleteResponse>>(response);
    }

    protected override IEnumerable<string> CoordinatorKeys(OffsetDeleteRequest request) => [request.GroupId];

    protected override OffsetDeleteResponse? ErrorResponse(RequestContext context, OffsetDeleteRequest request, ErrorCode error) => new() { ErrorCode = (short)error };
}
