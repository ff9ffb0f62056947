using Tributary.Broker.Dispatch;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// OffsetDelete v0 (KIP-496).
// Behaviour:
// - Deletes committed offsets of a group; GROUP_ID_NOT_FOUND for an unknown group.
// - While the group has members, offsets of topics a member subscribes to (read from consumer-protocol metadata)
//   answer GROUP_SUBSCRIBED_TO_TOPIC, and a non-consumer group with members answers NON_EMPTY_GROUP.
// - Unknown topics or partitions get UNKNOWN_TOPIC_OR_PARTITION; deleting an offset never committed succeeds.
public sealed class OffsetDeleteHandler(BrokerCore broker) : ApiHandler<OffsetDeleteRequest, OffsetDeleteResponse>(ApiKey.OffsetDelete, 0, 0)
{
    protected override ValueTask<HandlerResult<OffsetDeleteResponse>> HandleAsync(RequestContext context, OffsetDeleteRequest request, CancellationToken cancellationToken)
    {
        var partitions = request.Topics.SelectMany(t => t.Partitions.Select(p => (t.Name, p.PartitionIndex))).ToList();
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
                topic.Partitions.Add(new OffsetDeleteResponse.OffsetDeleteResponsePartition { PartitionIndex = p.PartitionIndex, ErrorCode = (short)results[i++] });
            }
        }

        return ValueTask.FromResult<HandlerResult<OffsetDeleteResponse>>(response);
    }

    protected override OffsetDeleteResponse? ErrorResponse(RequestContext context, OffsetDeleteRequest request, ErrorCode error) => new() { ErrorCode = (short)error };
}
