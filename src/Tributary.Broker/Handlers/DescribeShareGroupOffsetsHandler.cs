using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
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
public sealed class DescribeShareGroupOffsetsHandler(BrokerCore broker) : ApiHandler<DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse>(ApiKey.DescribeShareGroupOffsets, 0, 1)
{
    protected override ValueTask<HandlerResult<DescribeShareGroupOffsetsResponse>> HandleAsync(RequestContext context, DescribeShareGroupOffsetsRequest request, CancellationToken cancellationToken)
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

            if (group.GroupId.Length == 0 || !broker.ShareGroups.IsShareGroup(group.GroupId))
            {
                entry.ErrorCode = (short)(group.GroupId.Length == 0 ? ErrorCode.InvalidGroupId : ErrorCode.GroupIdNotFound);
                entry.ErrorMessage = group.GroupId.Length == 0 ? "GroupId can't be empty." : $"Group {group.GroupId} is not a share group.";
                continue;
            }

            var states = broker.ShareGroups.PartitionsOf(group.GroupId).ToDictionary(p => (p.Key.TopicId, p.Key.Partition));
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
                        else if (log is null)
                        {
                            result.ErrorCode = (short)ErrorCode.UnknownTopicOrPartition;
                        }
                        else if (states.TryGetValue((topic!.Id, p), out var share) && share.IsInitialized)
                        {
                            result.StartOffset = share.StartOffset;
                            result.Lag = Math.Max(0, log.HighWatermark - share.StartOffset - share.DeliveryCompleteCount());
                        }

                        return result;
                    })],
                });
            }
        }

        return ValueTask.FromResult<HandlerResult<DescribeShareGroupOffsetsResponse>>(response);
    }

    protected override DescribeShareGroupOffsetsResponse? ErrorResponse(RequestContext context, DescribeShareGroupOffsetsRequest request, ErrorCode error) => new()
    {
        Groups = [.. request.Groups.Select(g => new DescribeShareGroupOffsetsResponse.DescribeShareGroupOffsetsResponseGroup { GroupId = g.GroupId, ErrorCode = (short)error })],
    };
}
