using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Broker.ShareGroups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// ReadShareGroupState v0 (broker to broker, KIP-932: a share partition's leader loads its state from the share
// coordinator).
// Behaviour:
// - Authorization: CLUSTER_ACTION on the cluster, else CLUSTER_AUTHORIZATION_FAILED for every partition.
// - Served by the share coordinator (in cluster mode the leader of __share_group_state; NOT_COORDINATOR elsewhere,
//   COORDINATOR_LOAD_IN_PROGRESS while it loads).
// - Per partition: the state epoch, start offset and state batches; a partition without state answers start offset
//   -1. A leader epoch below the stored one is FENCED_LEADER_EPOCH; a higher one is stored (written, and answered once
//   the ISR has it), fencing the previous leader's writes.
public sealed class ReadShareGroupStateHandler(BrokerCore broker) : ApiHandler<ReadShareGroupStateRequest, ReadShareGroupStateResponse>(ApiKey.ReadShareGroupState, 0, 0)
{
    protected override async ValueTask<HandlerResult<ReadShareGroupStateResponse>> HandleAsync(RequestContext context, ReadShareGroupStateRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.AuthorizeCluster(context, AclOperation.ClusterAction))
        {
            return ErrorResponse(context, request, ErrorCode.ClusterAuthorizationFailed)!;
        }

        var response = new ReadShareGroupStateResponse();
        foreach (var topic in request.Topics)
        {
            var result = new ReadShareGroupStateResponse.ReadStateResult { TopicId = topic.TopicId };
            foreach (var p in topic.Partitions)
            {
                var (error, state) = broker.ShareCoordinator.Read(new SharePartitionKey(request.GroupId, topic.TopicId, p.Partition), p.LeaderEpoch);
                result.Partitions.Add(new ReadShareGroupStateResponse.PartitionResult
                {
                    Partition = p.Partition,
                    ErrorCode = (short)error,
                    StateEpoch = state?.StateEpoch ?? 0,
                    StartOffset = state?.StartOffset ?? -1,
                    StateBatches = [.. (state?.StateBatches ?? []).Select(b => new ReadShareGroupStateResponse.StateBatch { FirstOffset = b.FirstOffset, LastOffset = b.LastOffset, DeliveryState = b.DeliveryState, DeliveryCount = b.DeliveryCount })],
                });
            }

            response.Results.Add(result);
        }

        var replicated = await broker.ReplicateCoordinatorWriteAsync(ShareStateTopic.TopicName, 0).ConfigureAwait(false);
        foreach (var p in response.Results.SelectMany(r => r.Partitions).Where(p => p.ErrorCode == 0 && replicated != ErrorCode.None))
        {
            p.ErrorCode = (short)replicated;
            p.StartOffset = -1;
            p.StateBatches = [];
        }

        return response;
    }

    protected override ReadShareGroupStateResponse? ErrorResponse(RequestContext context, ReadShareGroupStateRequest request, ErrorCode error) => new()
    {
        Results = [.. request.Topics.Select(t => new ReadShareGroupStateResponse.ReadStateResult
        {
            TopicId = t.TopicId,
            Partitions = [.. t.Partitions.Select(p => new ReadShareGroupStateResponse.PartitionResult { Partition = p.Partition, ErrorCode = (short)error, StartOffset = -1, ErrorMessage = null })],
        })],
    };
}
