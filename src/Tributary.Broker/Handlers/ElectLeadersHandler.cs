using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// ElectLeaders v0-2 (KIP-183; election types KIP-460).
// Behaviour:
// - Authorization: ALTER on the cluster, else CLUSTER_AUTHORIZATION_FAILED (top level from v1, and on every partition).
// - Preferred (type 0, and all of v0): the first replica leads when it is live and in the ISR; ELECTION_NOT_NEEDED
//   when it already does, PREFERRED_LEADER_NOT_AVAILABLE when it cannot. Unclean (type 1): only a partition without
//   a live leader, taking a live ISR member if any, else any live replica, whatever
//   unclean.leader.election.enable says (as Kafka: the admin asked for it); ELIGIBLE_LEADERS_NOT_AVAILABLE when no
//   replica is live. Other types: INVALID_REQUEST.
// - Null topic_partitions: every partition, and only those where an election was needed are listed (as KRaft).
// - Unknown topics and partitions: UNKNOWN_TOPIC_OR_PARTITION. On a single node (and for internal topics, local to
//   each broker) the only replica leads: ELECTION_NOT_NEEDED.
// - In cluster mode the new leader is written by this broker as a compare-and-swap on the partition's state
//   (ClusterNode.ElectLeaderAsync); Kafka forwards to its controller. Answered once written; timeout_ms is not used.
public sealed class ElectLeadersHandler(BrokerCore broker) : ApiHandler<ElectLeadersRequest, ElectLeadersResponse>(ApiKey.ElectLeaders, 0, 2)
{
    private const sbyte Preferred = 0;
    private const sbyte Unclean = 1;

    protected override async ValueTask<HandlerResult<ElectLeadersResponse>> HandleAsync(RequestContext context, ElectLeadersRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.AuthorizeCluster(context, AclOperation.Alter))
        {
            return ErrorResponse(context, request, ErrorCode.ClusterAuthorizationFailed);
        }

        // v0 carries no election_type and reads as preferred.
        if (request.ElectionType is not (Preferred or Unclean))
        {
            return ErrorResponse(context, request, ErrorCode.InvalidRequest);
        }

        var all = request.TopicPartitions is null;
        var requested = request.TopicPartitions?.SelectMany(t => t.Partitions.Distinct().Select(p => (t.Topic, Partition: p)))
            ?? broker.Metadata.Topics.SelectMany(t => Enumerable.Range(0, t.PartitionCount).Select(p => (Topic: t.Name, Partition: p)));
        var response = new ElectLeadersResponse();
        foreach (var (topic, partition) in requested.ToList())
        {
            var (error, message) = await ElectAsync(topic, partition, request.ElectionType == Unclean, cancellationToken).ConfigureAwait(false);
            if (all && error == ErrorCode.ElectionNotNeeded)
            {
                continue;
            }

            Result(response, topic).PartitionResult.Add(new ElectLeadersResponse.PartitionResult { PartitionId = partition, ErrorCode = (short)error, ErrorMessage = message });
        }

        return response;
    }

    private async Task<(ErrorCode, string?)> ElectAsync(string topic, int partition, bool unclean, CancellationToken cancellationToken)
    {
        if (broker.Cluster is { } cluster && cluster.HasTopic(topic))
        {
            return await cluster.ElectLeaderAsync(topic, partition, unclean, cancellationToken).ConfigureAwait(false);
        }

        return broker.Metadata.Find(topic) is { } local && partition >= 0 && partition < local.PartitionCount
            ? (ErrorCode.ElectionNotNeeded, "the only replica leads")
            : (ErrorCode.UnknownTopicOrPartition, $"partition {topic}-{partition} does not exist");
    }

    private static ElectLeadersResponse.ReplicaElectionResult Result(ElectLeadersResponse response, string topic)
    {
        if (response.ReplicaElectionResults.FirstOrDefault(r => r.Topic == topic) is { } existing)
        {
            return existing;
        }

        var added = new ElectLeadersResponse.ReplicaElectionResult { Topic = topic };
        response.ReplicaElectionResults.Add(added);
        return added;
    }

    protected override ElectLeadersResponse? ErrorResponse(RequestContext context, ElectLeadersRequest request, ErrorCode error) => new()
    {
        ErrorCode = (short)error,
        ReplicaElectionResults = [.. (request.TopicPartitions ?? []).Select(t => new ElectLeadersResponse.ReplicaElectionResult
        {
            Topic = t.Topic,
            PartitionResult = [.. t.Partitions.Select(p => new ElectLeadersResponse.PartitionResult { PartitionId = p, ErrorCode = (short)error, ErrorMessage = null })],
        })],
    };
}
