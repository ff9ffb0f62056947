using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Broker.ShareGroups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// AlterShareGroupOffsets v0 (KIP-932).
// Behaviour:
// - Authorization: READ on the group (else GROUP_AUTHORIZATION_FAILED at the top level); READ on each topic (else
//   TOPIC_AUTHORIZATION_FAILED on its partitions, which keep their state).
// - Sets the start offset of the named share partitions, dropping their in-flight state (a group that does not exist
//   yet gets the state, as in Kafka). Written to __share_group_state before the answer.
// - Errors: INVALID_GROUP_ID, NON_EMPTY_GROUP while the group has members, GROUP_ID_NOT_FOUND for a classic or
//   consumer group (top level); per partition UNKNOWN_TOPIC_OR_PARTITION, INVALID_REQUEST for a negative offset.
public sealed class AlterShareGroupOffsetsHandler(BrokerCore broker) : ApiHandler<AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse>(ApiKey.AlterShareGroupOffsets, 0, 0)
{
    protected override ValueTask<HandlerResult<AlterShareGroupOffsetsResponse>> HandleAsync(RequestContext context, AlterShareGroupOffsetsRequest request, CancellationToken cancellationToken)
    {
        var shares = broker.ShareGroups;
        var groupId = request.GroupId;
        var error = !broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Group, groupId) ? ErrorCode.GroupAuthorizationFailed
            : groupId.Length == 0 ? ErrorCode.InvalidGroupId
            : shares.HasMembers(groupId) ? ErrorCode.NonEmptyGroup
            : !shares.IsShareGroup(groupId) && (broker.Groups.DescribeConsumerGroup(groupId) is not null || broker.Groups.ListGroups().Any(g => g.GroupId == groupId)) ? ErrorCode.GroupIdNotFound
            : ErrorCode.None;
        if (error != ErrorCode.None)
        {
            return ValueTask.FromResult<HandlerResult<AlterShareGroupOffsetsResponse>>(ErrorResponse(context, request, error));
        }

        var settings = shares.SettingsFor(groupId);
        var changed = new List<SharePartition>();
        var response = new AlterShareGroupOffsetsResponse();
        foreach (var t in request.Topics)
        {
            var readable = broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Topic, t.TopicName);
            var topic = readable ? broker.Metadata.Find(t.TopicName) : null;
            var entry = new AlterShareGroupOffsetsResponse.AlterShareGroupOffsetsResponseTopic { TopicName = t.TopicName, TopicId = topic?.Id ?? Guid.Empty };
            response.Responses.Add(entry);
            foreach (var p in t.Partitions)
            {
                var log = topic is null ? null : broker.FindLog(topic, p.PartitionIndex);
                var result = !readable ? ErrorCode.TopicAuthorizationFailed
                    : log is null ? ErrorCode.UnknownTopicOrPartition : p.StartOffset < 0 ? ErrorCode.InvalidRequest : ErrorCode.None;
                if (result == ErrorCode.None)
                {
                    var share = shares.Partition(groupId, topic!, p.PartitionIndex, log!, settings);
                    share.ResetTo(p.StartOffset);
                    changed.Add(share);
                }

                entry.Partitions.Add(new AlterShareGroupOffsetsResponse.AlterShareGroupOffsetsResponsePartition { PartitionIndex = p.PartitionIndex, ErrorCode = (short)result });
            }
        }

        if (!shares.Persist(changed))
        {
            return ValueTask.FromResult<HandlerResult<AlterShareGroupOffsetsResponse>>(ErrorResponse(context, request, ErrorCode.CoordinatorNotAvailable));
        }

        return ValueTask.FromResult<HandlerResult<AlterShareGroupOffsetsResponse>>(response);
    }

    protected override AlterShareGroupOffsetsResponse ErrorResponse(RequestContext context, AlterShareGroupOffsetsRequest request, ErrorCode error) => new()
    {
        ErrorCode = (short)error,
        Responses = [.. request.Topics.Select(t => new AlterShareGroupOffsetsResponse.AlterShareGroupOffsetsResponseTopic
        {
            TopicName = t.TopicName,
            Partitions = [.. t.Partitions.Select(p => new AlterShareGroupOffsetsResponse.AlterShareGroupOffsetsResponsePartition { PartitionIndex = p.PartitionIndex, ErrorCode = (short)error })],
        })],
    };
}
