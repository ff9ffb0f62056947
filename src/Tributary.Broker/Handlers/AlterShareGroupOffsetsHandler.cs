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
//   yet gets the state, as in Kafka). Written to __share_group_state before the answer. In cluster mode it is served
//   by the group coordinator (NOT_COORDINATOR elsewhere), which has the share coordinator start each partition again
//   under a new state epoch; the data partition's leader, fenced by it, loads the new state at its next write.
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
        var reset = new List<(Metadata.TopicInfo Topic, int Partition, long StartOffset, AlterShareGroupOffsetsResponse.AlterShareGroupOffsetsResponsePartition Entry)>();
        var response = new AlterShareGroupOffsetsResponse();
        foreach (var t in request.Topics)
        {
            var readable = broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Topic, t.TopicName);
            var topic = readable ? broker.Metadata.Find(t.TopicName) : null;
            var entry = new AlterShareGroupOffsetsResponse.AlterShareGroupOffsetsResponseTopic { TopicName = t.TopicName, TopicId = topic?.Id ?? Guid.Empty };
            response.Responses.Add(entry);
            foreach (var p in t.Partitions)
            {
                var exists = topic is not null && p.PartitionIndex >= 0 && p.PartitionIndex < topic.PartitionCount;
                var log = exists && shares.Persister is null ? broker.FindLog(topic!, p.PartitionIndex) : null;
                var result = !readable ? ErrorCode.TopicAuthorizationFailed
                    : !exists || (shares.Persister is null && log is null) ? ErrorCode.UnknownTopicOrPartition : p.StartOffset < 0 ? ErrorCode.InvalidRequest : ErrorCode.None;
                var partitionEntry = new AlterShareGroupOffsetsResponse.AlterShareGroupOffsetsResponsePartition { PartitionIndex = p.PartitionIndex, ErrorCode = (short)result };
                entry.Partitions.Add(partitionEntry);
                if (result != ErrorCode.None)
                {
                    continue;
                }

                // In cluster mode the share partition lives on the data partition's leader: the reset goes to the
                // share coordinator instead.
                if (shares.Persister is not null)
                {
                    reset.Add((topic!, p.PartitionIndex, p.StartOffset, partitionEntry));
                    continue;
                }

                var share = shares.Partition(groupId, topic!, p.PartitionIndex, log!, settings);
                share.ResetTo(p.StartOffset);
                changed.Add(share);
            }
        }

        if (reset.Count > 0)
        {
            var results = shares.Reset(groupId, [.. reset.Select(r => (r.Topic, r.Partition, r.StartOffset))]);
            foreach (var r in reset)
            {
                r.Entry.ErrorCode = (short)results[(r.Topic.Id, r.Partition)];
            }
        }

        if (!shares.Persist(changed))
        {
            return ValueTask.FromResult<HandlerResult<AlterShareGroupOffsetsResponse>>(ErrorResponse(context, request, ErrorCode.CoordinatorNotAvailable));
        }

        return ValueTask.FromResult<HandlerResult<AlterShareGroupOffsetsResponse>>(response);
    }

    protected override IEnumerable<string> CoordinatorKeys(AlterShareGroupOffsetsRequest request) => [request.GroupId];

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
