using Tributary.Broker.Dispatch;
using Tributary.Broker.Groups;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// OffsetCommit v0-10.
// Behaviour (classic-group rules):
// - Authorization: READ on the group (else GROUP_AUTHORIZATION_FAILED for every partition) and READ on
//   each topic (else TOPIC_AUTHORIZATION_FAILED, that topic not committed).
// - A commit with a member id or generation must come from a current member of the current generation
//   (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID; REBALANCE_IN_PROGRESS while the group awaits its
//   assignment), and refreshes that member's session as a heartbeat does (static members too).
// - Generation -1 is a "simple" commit (the admin client, or a consumer assigning its own partitions), allowed while
//   the group has no members whatever member id it names; it creates the group. With members, generation -1 is
//   ILLEGAL_GENERATION for a member and UNKNOWN_MEMBER_ID otherwise. v0 carries no generation or member.
// - A member's commit (generation >= 0) to a group that does not exist: GROUP_ID_NOT_FOUND from v9, ILLEGAL_GENERATION
//   before (Kafka keeps the old answer for old clients). A KIP-848 member committing below v9: UNSUPPORTED_VERSION.
// - Per partition: UNKNOWN_TOPIC_OR_PARTITION, OFFSET_METADATA_TOO_LARGE above 4096 bytes. The offset, leader epoch
//   (v6+) and metadata (null stored as "") go to __consumer_offsets with the broker's time as commit timestamp.
// - v10 names topics by id; the partitions of an unknown id answer UNKNOWN_TOPIC_ID and nothing of them is stored.
// - Cluster mode: answered once the ISR of __consumer_offsets has the commit, as Kafka's acks=all write; else
//   NOT_COORDINATOR (leadership moved), COORDINATOR_NOT_AVAILABLE (ISR below min.insync.replicas), REQUEST_TIMED_OUT.
// Deviations from Kafka:
// - v1's commit_timestamp and v2-4's retention_time_ms are ignored; offsets.retention.minutes applies to every commit
//   (as Kafka does for v5+ since 2.1).
public sealed class OffsetCommitHandler(BrokerCore broker) : ApiHandler<OffsetCommitRequest, OffsetCommitResponse>(ApiKey.OffsetCommit, 0, 10)
{
    protected override ValueTask<HandlerResult<OffsetCommitResponse>> HandleAsync(RequestContext context, OffsetCommitRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Group, request.GroupId))
        {
            return ValueTask.FromResult<HandlerResult<OffsetCommitResponse>>(ErrorResponse(context, request, ErrorCode.GroupAuthorizationFailed)!);
        }

        var byId = context.ApiVersion >= 10;
        var names = request.Topics.Select(t => byId ? broker.Metadata.Find(t.TopicId)?.Name : t.Name).ToList();
        var denied = names.Select(n => n is not null && !broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Topic, n)).ToList();
        var entries = new List<OffsetCommitEntry>();
        for (var t = 0; t < request.Topics.Count; t++)
        {
            if (names[t] is not { } name || denied[t])
            {
                continue;
            }

            foreach (var p in request.Topics[t].Partitions)
            {
                entries.Add(new OffsetCommitEntry(name, p.PartitionIndex, p.CommittedOffset, p.CommittedLeaderEpoch, p.CommittedMetadata));
            }
        }

        var results = broker.Groups.CommitOffsets(request.GroupId, request.GenerationIdOrMemberEpoch, request.MemberId, request.GroupInstanceId, entries, context.ApiVersion);
        if (broker.Cluster is not null && results.Contains(ErrorCode.None))
        {
            return ReplicatedAsync(context, request, names, denied, results);
        }

        return ValueTask.FromResult<HandlerResult<OffsetCommitResponse>>(Response(context, request, names, denied, results));
    }

    // Cluster mode: answered once the ISR has the commit (Kafka writes offsets with acks=all); a failure replaces the
    // commits' NONE with the coordinator error Kafka maps it to.
    private async ValueTask<HandlerResult<OffsetCommitResponse>> ReplicatedAsync(RequestContext context, OffsetCommitRequest request, List<string?> names, List<bool> denied, ErrorCode[] results)
    {
        var replicated = await broker.ReplicateCoordinatorWriteAsync(OffsetsTopicStore.TopicName, broker.CoordinatorPartitionFor(OffsetsTopicStore.TopicName, request.GroupId)).ConfigureAwait(false);
        if (replicated != ErrorCode.None)
        {
            results = [.. results.Select(e => e == ErrorCode.None ? replicated : e)];
        }

        return Response(context, request, names, denied, results);
    }

    private static OffsetCommitResponse Response(RequestContext context, OffsetCommitRequest request, List<string?> names, List<bool> denied, ErrorCode[] results)
    {
        var byId = context.ApiVersion >= 10;
        var response = new OffsetCommitResponse();
        var i = 0;
        for (var t = 0; t < request.Topics.Count; t++)
        {
            var requested = request.Topics[t];
            var topic = new OffsetCommitResponse.OffsetCommitResponseTopic { Name = byId ? "" : requested.Name, TopicId = byId ? requested.TopicId : Guid.Empty };
            response.Topics.Add(topic);
            foreach (var p in requested.Partitions)
            {
                var error = names[t] is null ? ErrorCode.UnknownTopicId : denied[t] ? ErrorCode.TopicAuthorizationFailed : results[i++];
                topic.Partitions.Add(new OffsetCommitResponse.OffsetCommitResponsePartition { PartitionIndex = p.PartitionIndex, ErrorCode = (short)error });
            }
        }

        return response;
    }

    protected override IEnumerable<string> CoordinatorKeys(OffsetCommitRequest request) => [request.GroupId];

    protected override OffsetCommitResponse? ErrorResponse(RequestContext context, OffsetCommitRequest request, ErrorCode error) => new()
    {
        Topics = [.. request.Topics.Select(t => new OffsetCommitResponse.OffsetCommitResponseTopic
        {
            Name = t.Name,
            TopicId = t.TopicId,
            Partitions = [.. t.Partitions.Select(p => new OffsetCommitResponse.OffsetCommitResponsePartition { PartitionIndex = p.PartitionIndex, ErrorCode = (short)error })],
        })],
    };
}
