using Tributary.Broker.Dispatch;
using Tributary.Broker.Groups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// OffsetCommit v2-9. Classic-group rules: a commit with a member id or generation must come from a current member
// of the current generation (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID, REBALANCE_IN_PROGRESS
// while the group awaits its assignment); generation -1 with an empty member id is a "simple" commit, allowed while
// the group has no members, and creates the group. Per partition: UNKNOWN_TOPIC_OR_PARTITION for a partition that
// does not exist, OFFSET_METADATA_TOO_LARGE above 4096 bytes of metadata. The offset, leader epoch (v6+) and
// metadata are stored in __consumer_offsets with the broker's time as commit timestamp. Deviation: v2-4's
// retention_time_ms is ignored; offsets.retention.minutes applies to every commit (as Kafka does since 2.1 for v5+).
public sealed class OffsetCommitHandler(BrokerCore broker) : ApiHandler<OffsetCommitRequest, OffsetCommitResponse>(ApiKey.OffsetCommit, 2, 9)
{
    protected override ValueTask<OffsetCommitResponse?> HandleAsync(RequestContext context, OffsetCommitRequest request, CancellationToken cancellationToken)
    {
        var entries = new List<OffsetCommitEntry>();
        foreach (var t in request.Topics)
        {
            foreach (var p in t.Partitions)
            {
                entries.Add(new OffsetCommitEntry(t.Name, p.PartitionIndex, p.CommittedOffset, p.CommittedLeaderEpoch, p.CommittedMetadata));
            }
        }

        var results = broker.Groups.CommitOffsets(request.GroupId, request.GenerationIdOrMemberEpoch, request.MemberId, request.GroupInstanceId, entries);
        var response = new OffsetCommitResponse();
        var i = 0;
        foreach (var t in request.Topics)
        {
            var topic = new OffsetCommitResponse.OffsetCommitResponseTopic { Name = t.Name };
            response.Topics.Add(topic);
            foreach (var p in t.Partitions)
            {
                topic.Partitions.Add(new OffsetCommitResponse.OffsetCommitResponsePartition { PartitionIndex = p.PartitionIndex, ErrorCode = (short)results[i++] });
            }
        }

        return ValueTask.FromResult<OffsetCommitResponse?>(response);
    }

    protected override OffsetCommitResponse? ErrorResponse(RequestContext context, OffsetCommitRequest request, ErrorCode error) => new()
    {
        Topics = [.. request.Topics.Select(t => new OffsetCommitResponse.OffsetCommitResponseTopic
        {
            Name = t.Name,
            Partitions = [.. t.Partitions.Select(p => new OffsetCommitResponse.OffsetCommitResponsePartition { PartitionIndex = p.PartitionIndex, ErrorCode = (short)error })],
        })],
    };
}
