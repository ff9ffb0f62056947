using Tributary.Broker.Cluster;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// ListPartitionReassignments v0 (KIP-455).
// Behaviour:
// - Authorization: DESCRIBE on the cluster, else CLUSTER_AUTHORIZATION_FAILED.
// - The reassignments in progress, from this broker's cache of the cluster metadata: every one when topics is null,
//   else those of the named partitions; partitions without one (or unknown) are left out, as Kafka does. Replicas are
//   the target then the replicas being removed, with adding_replicas and removing_replicas. Nothing on a single node.
public sealed class ListPartitionReassignmentsHandler(BrokerCore broker)
    : ApiHandler<ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse>(ApiKey.ListPartitionReassignments, 0, 0)
{
    protected override ValueTask<HandlerResult<ListPartitionReassignmentsResponse>> HandleAsync(RequestContext context, ListPartitionReassignmentsRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.AuthorizeCluster(context, AclOperation.Describe))
        {
            return ValueTask.FromResult<HandlerResult<ListPartitionReassignmentsResponse>>(ErrorResponse(context, request, ErrorCode.ClusterAuthorizationFailed));
        }

        var wanted = request.Topics?.SelectMany(t => t.PartitionIndexes.Select(p => (t.Name, p))).ToHashSet();
        var ongoing = (broker.Cluster?.Reassigning ?? []).Where(s => wanted is null || wanted.Contains((s.Topic, s.Partition)));
        var response = new ListPartitionReassignmentsResponse
        {
            ErrorMessage = null,
            Topics = [.. ongoing.GroupBy(s => s.Topic, StringComparer.Ordinal).Select(g => new ListPartitionReassignmentsResponse.OngoingTopicReassignment
            {
                Name = g.Key,
                Partitions = [.. g.Select(Describe)],
            })],
        };
        return ValueTask.FromResult<HandlerResult<ListPartitionReassignmentsResponse>>(response);
    }

    private static ListPartitionReassignmentsResponse.OngoingPartitionReassignment Describe(PartitionState state) => new()
    {
        PartitionIndex = state.Partition,
        Replicas = [.. state.Replicas],
        AddingReplicas = [.. state.AddingReplicas ?? []],
        RemovingReplicas = [.. state.RemovingReplicas ?? []],
    };

    protected override ListPartitionReassignmentsResponse? ErrorResponse(RequestContext context, ListPartitionReassignmentsRequest request, ErrorCode error) =>
        new() { ErrorCode = (short)error, ErrorMessage = null };
}
