using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Broker.ShareGroups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// ReadShareGroupStateSummary v0-1 (broker to broker, KIP-932: the start offsets DescribeShareGroupOffsets reports).
// Behaviour:
// - Authorization: CLUSTER_ACTION on the cluster, else CLUSTER_AUTHORIZATION_FAILED for every partition.
// - Served per partition by its share coordinator, the leader of the partition of __share_group_state that holds it
//   (SharePartitionKey.CoordinatorKey's hash): a partition whose state another broker coordinates answers
//   NOT_COORDINATOR in its own entry, COORDINATOR_LOAD_IN_PROGRESS while its state partition loads here.
// - Per partition: state epoch, leader epoch, start offset and (v1) the delivery-complete count, without writing
//   anything; start offset -1 for a partition without state. A leader epoch below the stored one (other than -1) is
//   FENCED_LEADER_EPOCH.
public sealed class ReadShareGroupStateSummaryHandler(BrokerCore broker) : ApiHandler<ReadShareGroupStateSummaryRequest, ReadShareGroupStateSummaryResponse>(ApiKey.ReadShareGroupStateSummary, 0, 1)
{
    protected override ValueTask<HandlerResult<ReadShareGroupStateSummaryResponse>> HandleAsync(RequestContext context, ReadShareGroupStateSummaryRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.AuthorizeCluster(context, AclOperation.ClusterAction))
        {
            return ValueTask.FromResult<HandlerResult<ReadShareGroupStateSummaryResponse>>(ErrorResponse(context, request, ErrorCode.ClusterAuthorizationFailed)!);
        }

        var response = new ReadShareGroupStateSummaryResponse
        {
            Results = [.. request.Topics.Select(t => new ReadShareGroupStateSummaryResponse.ReadStateSummaryResult
            {
                TopicId = t.TopicId,
                Partitions = [.. t.Partitions.Select(p =>
                {
                    var (error, state) = broker.ShareCoordinator.Summary(new SharePartitionKey(request.GroupId, t.TopicId, p.Partition), p.LeaderEpoch);
                    return new ReadShareGroupStateSummaryResponse.PartitionResult
                    {
                        Partition = p.Partition,
                        ErrorCode = (short)error,
                        ErrorMessage = null,
                        StateEpoch = state?.StateEpoch ?? 0,
                        LeaderEpoch = state?.LeaderEpoch ?? -1,
                        StartOffset = state?.StartOffset ?? -1,
                        DeliveryCompleteCount = state?.DeliveryCompleteCount ?? -1,
                    };
                })],
            })],
        };
        return ValueTask.FromResult<HandlerResult<ReadShareGroupStateSummaryResponse>>(response);
    }

    protected override ReadShareGroupStateSummaryResponse? ErrorResponse(RequestContext context, ReadShareGroupStateSummaryRequest request, ErrorCode error) => new()
    {
        Results = [.. request.Topics.Select(t => new ReadShareGroupStateSummaryResponse.ReadStateSummaryResult
        {
            TopicId = t.TopicId,
            Partitions = [.. t.Partitions.Select(p => new ReadShareGroupStateSummaryResponse.PartitionResult { Partition = p.Partition, ErrorCode = (short)error, ErrorMessage = null, LeaderEpoch = -1, StartOffset = -1 })],
        })],
    };
}
