using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// AlterPartitionReassignments v0-1 (KIP-455; allow_replication_factor_change KIP-860).
// Behaviour:
// - Authorization: ALTER on the cluster, else CLUSTER_AUTHORIZATION_FAILED for the whole request.
// - Per partition: the target replicas become the partition's replicas once the added ones have caught up and joined
//   the ISR (the controller completes it: removed replicas are dropped, a removed leader hands over); null replicas
//   cancel the reassignment in progress (NO_REASSIGNMENT_IN_PROGRESS when there is none).
// - Errors: UNKNOWN_TOPIC_OR_PARTITION; INVALID_REPLICA_ASSIGNMENT for an empty list, a duplicate or a broker that is
//   not registered; INVALID_REPLICATION_FACTOR when v1's allow_replication_factor_change is false and the count
//   differs from the current one.
// - On a single node (and internal topics, local to each broker) the only valid target is this broker.
// - Answered once the reassignment is recorded (a compare-and-swap on the partition's state in etcd, written by this
//   broker; Kafka forwards to its controller); timeout_ms is not used. A removed replica's local log is kept on disk.
public sealed class AlterPartitionReassignmentsHandler(BrokerCore broker)
    : ApiHandler<AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse>(ApiKey.AlterPartitionReassignments, 0, 1)
{
    protected override async ValueTask<HandlerResult<AlterPartitionReassignmentsResponse>> HandleAsync(RequestContext context, AlterPartitionReassignmentsRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.AuthorizeCluster(context, AclOperation.Alter))
        {
            return ErrorResponse(context, request, ErrorCode.ClusterAuthorizationFailed);
        }

        var response = new AlterPartitionReassignmentsResponse { AllowReplicationFactorChange = request.AllowReplicationFactorChange };
        foreach (var topic in request.Topics)
        {
            var result = new AlterPartitionReassignmentsResponse.ReassignableTopicResponse { Name = topic.Name };
            foreach (var partition in topic.Partitions)
            {
                var (error, message) = await ReassignAsync(topic.Name, partition.PartitionIndex, partition.Replicas?.ToArray(), request.AllowReplicationFactorChange, cancellationToken).ConfigureAwait(false);
                result.Partitions.Add(new AlterPartitionReassignmentsResponse.ReassignablePartitionResponse { PartitionIndex = partition.PartitionIndex, ErrorCode = (short)error, ErrorMessage = message });
            }

            response.Responses.Add(result);
        }

        response.ErrorMessage = null;
        return response;
    }

    private async Task<(ErrorCode, string?)> ReassignAsync(string topic, int partition, int[]? target, bool allowFactorChange, CancellationToken cancellationToken)
    {
        if (broker.Cluster is { } cluster && cluster.HasTopic(topic))
        {
            if (!cluster.TryGetPartition(topic, partition, out var state))
            {
                return (ErrorCode.UnknownTopicOrPartition, $"partition {topic}-{partition} does not exist");
            }

            var current = state.Replicas.Length - (state.AddingReplicas?.Length ?? 0);
            if (target is not null && !allowFactorChange && target.Length != current)
            {
                return (ErrorCode.InvalidReplicationFactor, $"the target has {target.Length} replicas, the partition {current}, and allow_replication_factor_change is false");
            }

            return await cluster.ReassignAsync(topic, partition, target, cancellationToken).ConfigureAwait(false);
        }

        if (broker.Metadata.Find(topic) is not { } local || partition < 0 || partition >= local.PartitionCount)
        {
            return (ErrorCode.UnknownTopicOrPartition, $"partition {topic}-{partition} does not exist");
        }

        return target switch
        {
            null => (ErrorCode.NoReassignmentInProgress, $"no reassignment of {topic}-{partition} is in progress"),
            [var only] when only == broker.NodeId => (ErrorCode.None, null),
            _ => (ErrorCode.InvalidReplicaAssignment, $"replicas [{string.Join(",", target)}] name a broker other than {broker.NodeId}, the only one"),
        };
    }

    protected override AlterPartitionReassignmentsResponse? ErrorResponse(RequestContext context, AlterPartitionReassignmentsRequest request, ErrorCode error) => new()
    {
        ErrorCode = (short)error,
        ErrorMessage = null,
        AllowReplicationFactorChange = request.AllowReplicationFactorChange,
    };
}
