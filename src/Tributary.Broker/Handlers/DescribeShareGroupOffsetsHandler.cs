using Tributary.Broker.Dispatch;
using Tributary.Broker.Metadata;
using Tributary.Broker.Security.Authorization;
using Tributary.Broker.ShareGroups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// DescribeShareGroupOffsets v0-1 (KIP-932).
// Behaviour:
// - Authorization: DESCRIBE on each group (else GROUP_AUTHORIZATION_FAILED for that group); DESCRIBE on each topic
//   (named: TOPIC_AUTHORIZATION_FAILED on its partitions; all topics: those without it are left out).
// - Per share group and partition: the share-partition start offset (-1 when the group never read it) and, v1, the lag:
//   records from the start offset to the high watermark not yet acknowledged or archived (-1 when unknown).
// - Topics null: every partition the group has state for. Unknown topic: UNKNOWN_TOPIC_OR_PARTITION on its partitions.
// - An empty group id: INVALID_GROUP_ID; a group that is not a share group: GROUP_ID_NOT_FOUND (group level).
// - Cluster mode: the start offsets come from the share coordinator (ReadShareGroupStateSummary through
//   ShareStatePersister), so every broker answers the same; a group this broker has no members of is known by its
//   state there. The lag needs the partition's log: -1 on a broker that holds no replica of it.
public sealed class DescribeShareGroupOffsetsHandler(BrokerCore broker) : ApiHandler<DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse>(ApiKey.DescribeShareGroupOffsets, 0, 1)
{
    protected override async ValueTask<HandlerResult<DescribeShareGroupOffsetsResponse>> HandleAsync(RequestContext context, DescribeShareGroupOffsetsRequest request, CancellationToken cancellationToken)
    {
        var response = new DescribeShareGroupOffsetsResponse();
        foreach (var group in request.Groups)
        {
            var entry = new DescribeShareGroupOffsetsResponse.DescribeShareGroupOffsetsResponseGroup { GroupId = group.GroupId };
            response.Groups.Add(entry);
            if (group.GroupId.Length > 0 && !broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Group, group.GroupId))
            {
                entry.ErrorCode = (short)ErrorCode.GroupAuthorizationFailed;
                continue;
            }

            var states = group.GroupId.Length == 0 ? null
                : broker.ShareGroups.Persister is { } persister ? await FromCoordinatorAsync(context, persister, group).ConfigureAwait(false)
                : broker.ShareGroups.IsShareGroup(group.GroupId) ? LocalStates(group.GroupId)
                : null;
            if (states is null)
            {
                entry.ErrorCode = (short)(group.GroupId.Length == 0 ? ErrorCode.InvalidGroupId : ErrorCode.GroupIdNotFound);
                entry.ErrorMessage = group.GroupId.Length == 0 ? "GroupId can't be empty." : $"Group {group.GroupId} is not a share group.";
                continue;
            }

            var topics = group.Topics?.Select(t => (t.TopicName, (IReadOnlyList<int>?)t.Partitions))
                ?? states.Keys.Select(k => k.TopicId).Distinct().Select(id => (broker.Metadata.Find(id)?.Name ?? "", (IReadOnlyList<int>?)null))
                    .Where(t => t.Item1.Length > 0 && broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Topic, t.Item1));
            foreach (var (name, partitions) in topics.Where(t => t.Item1.Length > 0))
            {
                var describable = broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Topic, name);
                var topic = describable ? broker.Metadata.Find(name) : null;
                var listed = partitions ?? (topic is null ? [] : [.. states.Keys.Where(k => k.TopicId == topic.Id).Select(k => k.Partition).Order()]);
                entry.Topics.Add(new DescribeShareGroupOffsetsResponse.DescribeShareGroupOffsetsResponseTopic
                {
                    TopicName = name,
                    TopicId = topic?.Id ?? Guid.Empty,
                    Partitions = [.. listed.Select(p =>
                    {
                        var result = new DescribeShareGroupOffsetsResponse.DescribeShareGroupOffsetsResponsePartition { PartitionIndex = p, StartOffset = -1, LeaderEpoch = 0, Lag = -1 };
                        var log = topic is null ? null : broker.FindLog(topic, p);
                        if (!describable)
                        {
                            result.ErrorCode = (short)ErrorCode.TopicAuthorizationFailed;
                        }
                        else if (topic is null || (broker.Cluster is null ? log is null : p < 0 || p >= topic.PartitionCount))
                        {
                            result.ErrorCode = (short)ErrorCode.UnknownTopicOrPartition;
                        }
                        else if (states.GetValueOrDefault((topic.Id, p), (ErrorCode.None, -1, -1)) is var share && share.Error != ErrorCode.None)
                        {
                            result.ErrorCode = (short)share.Error;
                        }
                        else if (share.StartOffset >= 0)
                        {
                            result.StartOffset = share.StartOffset;
                            result.Lag = log is null ? -1 : Math.Max(0, log.HighWatermark - share.StartOffset - Math.Max(0, share.DeliveryCompleteCount));
                        }

                        return result;
                    })],
                });
            }
        }

        return response;
    }

    // Single node: the share partitions this broker holds (those never read have no start offset yet).
    private Dictionary<(Guid TopicId, int Partition), (ErrorCode Error, long StartOffset, int DeliveryCompleteCount)> LocalStates(string groupId) =>
        broker.ShareGroups.PartitionsOf(groupId).Where(p => p.IsInitialized)
            .ToDictionary(p => (p.Key.TopicId, p.Key.Partition), p => (ErrorCode.None, p.StartOffset, p.DeliveryCompleteCount()));

    // Cluster mode: the share coordinator's state (ReadShareGroupStateSummary), as Kafka's group coordinator reads it,
    // so every broker answers the same. Topics null: every partition of the topics the caller may describe, keeping
    // those with state. Null (GROUP_ID_NOT_FOUND) when neither this broker nor the coordinator knows the group.
    private async Task<IReadOnlyDictionary<(Guid TopicId, int Partition), (ErrorCode Error, long StartOffset, int DeliveryCompleteCount)>?> FromCoordinatorAsync(
        RequestContext context, ShareStatePersister persister, DescribeShareGroupOffsetsRequest.DescribeShareGroupOffsetsRequestGroup group)
    {
        var topics = group.Topics is { } named
            ? named.Select(t => (broker.Metadata.Find(t.TopicName), (IEnumerable<int>)t.Partitions))
            : broker.Metadata.Topics.Where(t => !t.IsInternal && broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Topic, t.Name))
                .Select(t => ((TopicInfo?)t, Enumerable.Range(0, t.PartitionCount)));
        List<(Guid TopicId, int Partition)> partitions = [.. topics.Where(t => t.Item1 is not null).SelectMany(t => t.Item2.Select(p => (t.Item1!.Id, p)))];
        var states = await persister.SummaryAsync(group.GroupId, partitions).ConfigureAwait(false);
        var known = broker.ShareGroups.IsShareGroup(group.GroupId) || states.Values.Any(s => s.StartOffset >= 0);
        return !known ? null
            : group.Topics is null ? states.Where(s => s.Value.StartOffset >= 0 || s.Value.Error != ErrorCode.None).ToDictionary()
            : states;
    }

    protected override DescribeShareGroupOffsetsResponse? ErrorResponse(RequestContext context, DescribeShareGroupOffsetsRequest request, ErrorCode error) => new()
    {
        Groups = [.. request.Groups.Select(g => new DescribeShareGroupOffsetsResponse.DescribeShareGroupOffsetsResponseGroup { GroupId = g.GroupId, ErrorCode = (short)error })],
    };
}
