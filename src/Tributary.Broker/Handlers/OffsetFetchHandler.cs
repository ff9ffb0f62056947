using Tributary.Broker.Dispatch;
using Tributary.Broker.Groups;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// OffsetFetch v0-10.
// Behaviour:
// - Authorization: DESCRIBE on the group (else GROUP_AUTHORIZATION_FAILED) and on each topic: one asked
//   for without it is TOPIC_AUTHORIZATION_FAILED; asked for every topic, those without it are left out.
// - Null topics (v2+) mean every partition the group has committed.
// - A partition without a commit, an unknown group or an unknown topic answers offset -1, no metadata and no error,
//   as Kafka does. The committed leader epoch is returned from v5.
// - require_stable (v7+): a partition with a transactional offset pending (TxnOffsetCommit of an open transaction)
//   answers UNSTABLE_OFFSET_COMMIT with offset -1, which the client retries, as Kafka does; without it the last
//   committed offset is returned.
// Versions:
// - v0-7 ask for one group, v8+ for several, each answered with its own group entry; in cluster mode a group whose
//   __consumer_offsets partition another broker leads answers NOT_COORDINATOR there (COORDINATOR_LOAD_IN_PROGRESS while
//   it loads here), the others their offsets.
// - v10 names topics by id: an unknown id answers UNKNOWN_TOPIC_ID for its partitions; asked for every partition, a
//   committed topic that no longer exists (so has no id) is left out.
// Deviations from Kafka:
// - v9's member id and epoch are ignored; Kafka checks them against a KIP-848 group's members.
public sealed class OffsetFetchHandler(BrokerCore broker) : ApiHandler<OffsetFetchRequest, OffsetFetchResponse>(ApiKey.OffsetFetch, 0, 10)
{
    protected override ValueTask<HandlerResult<OffsetFetchResponse>> HandleAsync(RequestContext context, OffsetFetchRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var response = new OffsetFetchResponse();
        if (version >= 8)
        {
            var byId = version >= 10;
            foreach (var g in request.Groups)
            {
                var group = new OffsetFetchResponse.OffsetFetchResponseGroup { GroupId = g.GroupId };
                if (!CanDescribeGroup(context, g.GroupId))
                {
                    group.ErrorCode = (short)ErrorCode.GroupAuthorizationFailed;
                    response.Groups.Add(group);
                    continue;
                }

                if (CoordinatorErrorOf(g.GroupId) is var notHere and not ErrorCode.None)
                {
                    group.ErrorCode = (short)notHere;
                    response.Groups.Add(group);
                    continue;
                }

                var requested = new List<(string Name, IReadOnlyList<int> Partitions)>();
                foreach (var t in g.Topics ?? [])
                {
                    if (!byId)
                    {
                        requested.Add((t.Name, t.PartitionIndexes));
                    }
                    else if (broker.Metadata.Find(t.TopicId) is { } known)
                    {
                        requested.Add((known.Name, t.PartitionIndexes));
                    }
                    else
                    {
                        group.Topics.Add(new OffsetFetchResponse.OffsetFetchResponseTopics
                        {
                            TopicId = t.TopicId,
                            Partitions = [.. t.PartitionIndexes.Select(p => new OffsetFetchResponse.OffsetFetchResponsePartitions { PartitionIndex = p, CommittedOffset = -1, ErrorCode = (short)ErrorCode.UnknownTopicId })],
                        });
                    }
                }

                foreach (var (topic, partitions) in Fetch(context, g.GroupId, g.Topics is null ? null : requested, request.RequireStable))
                {
                    var id = byId ? broker.Metadata.Find(topic)?.Id : null;
                    if (byId && id is null)
                    {
                        continue;
                    }

                    group.Topics.Add(new OffsetFetchResponse.OffsetFetchResponseTopics
                    {
                        Name = byId ? "" : topic,
                        TopicId = id ?? Guid.Empty,
                        Partitions = [.. partitions.Select(p => new OffsetFetchResponse.OffsetFetchResponsePartitions
                        {
                            PartitionIndex = p.Partition,
                            CommittedOffset = p.Offset.Offset,
                            CommittedLeaderEpoch = p.Offset.LeaderEpoch,
                            Metadata = p.Offset.Metadata,
                            ErrorCode = (short)p.Error,
                        })],
                    });
                }

                response.Groups.Add(group);
            }

            return ValueTask.FromResult<HandlerResult<OffsetFetchResponse>>(response);
        }

        if (!CanDescribeGroup(context, request.GroupId))
        {
            return ValueTask.FromResult<HandlerResult<OffsetFetchResponse>>(ErrorResponse(context, request, ErrorCode.GroupAuthorizationFailed)!);
        }

        var topics = request.Topics?.Select(t => (t.Name, (IReadOnlyList<int>)t.PartitionIndexes)).ToList();
        foreach (var (topic, partitions) in Fetch(context, request.GroupId, topics, version >= 7 && request.RequireStable))
        {
            response.Topics.Add(new OffsetFetchResponse.OffsetFetchResponseTopic
            {
                Name = topic,
                Partitions = [.. partitions.Select(p => new OffsetFetchResponse.OffsetFetchResponsePartition
                {
                    PartitionIndex = p.Partition,
                    CommittedOffset = p.Offset.Offset,
                    // The leader epoch exists on the wire from v5; older versions must keep the schema default.
                    CommittedLeaderEpoch = version >= 5 ? p.Offset.LeaderEpoch : -1,
                    Metadata = p.Offset.Metadata,
                    ErrorCode = (short)p.Error,
                })],
            });
        }

        return ValueTask.FromResult<HandlerResult<OffsetFetchResponse>>(response);
    }

    // Topics the connection may not DESCRIBE: left out when every committed topic is asked for, else answered
    // TOPIC_AUTHORIZATION_FAILED with no offset, as Kafka does.
    private List<(string Topic, List<(int Partition, CommittedOffset Offset, ErrorCode Error)> Partitions)> Fetch(
        RequestContext context, string groupId, List<(string Name, IReadOnlyList<int> Partitions)>? requested, bool requireStable)
    {
        var committed = broker.Groups.FetchOffsets(groupId);
        var none = new CommittedOffset(-1, -1, "", -1);
        (int, CommittedOffset, ErrorCode) Answer(string topic, int partition, CommittedOffset offset) =>
            requireStable && broker.Groups.HasPendingTransactionalOffset(groupId, topic, partition) ? (partition, none, ErrorCode.UnstableOffsetCommit) : (partition, offset, ErrorCode.None);

        if (requested is null)
        {
            return [.. committed
                .GroupBy(c => c.Key.Topic, StringComparer.Ordinal)
                .Where(g => CanDescribeTopic(context, g.Key))
                .Select(g => (g.Key, g.Select(c => Answer(g.Key, c.Key.Partition, c.Value)).OrderBy(c => c.Item1).ToList()))];
        }

        return [.. requested.Select(t => CanDescribeTopic(context, t.Name)
            ? (t.Name, t.Partitions.Select(p => Answer(t.Name, p, committed.GetValueOrDefault((t.Name, p), none))).ToList())
            : (t.Name, t.Partitions.Select(p => (p, none, ErrorCode.TopicAuthorizationFailed)).ToList()))];
    }

    private bool CanDescribeGroup(RequestContext context, string group) => broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Group, group);

    private bool CanDescribeTopic(RequestContext context, string topic) => broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Topic, topic);

    protected override IEnumerable<string> CoordinatorKeys(OffsetFetchRequest request) => request.Groups.Count > 0 ? request.Groups.Select(g => g.GroupId) : [request.GroupId];

    protected override bool AnswersPerKey(RequestContext context, OffsetFetchRequest request) => context.ApiVersion >= 8;

    protected override OffsetFetchResponse? ErrorResponse(RequestContext context, OffsetFetchRequest request, ErrorCode error)
    {
        if (context.ApiVersion >= 8)
        {
            return new OffsetFetchResponse
            {
                Groups = [.. request.Groups.Select(g => new OffsetFetchResponse.OffsetFetchResponseGroup { GroupId = g.GroupId, ErrorCode = (short)error })],
            };
        }

        return new OffsetFetchResponse
        {
            ErrorCode = (short)error,
            Topics = [.. (request.Topics ?? []).Select(t => new OffsetFetchResponse.OffsetFetchResponseTopic
            {
                Name = t.Name,
                Partitions = [.. t.PartitionIndexes.Select(p => new OffsetFetchResponse.OffsetFetchResponsePartition { PartitionIndex = p, CommittedOffset = -1, ErrorCode = (short)error })],
            })],
        };
    }
}
