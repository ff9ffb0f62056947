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
// - Served per partition by its share coordinator, the leader of the partition of __share_group_state that holds it
//   (SharePartitionKey.CoordinatorKey's hash): a partition whose state another broker coordinates answers
//   NOT_COORDINATOR in its own entry, COORDINATOR_LOAD_IN_PROGRESS while its state partition loads here.
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

        var answered = response.Results.SelectMany(r => r.Partitions.Where(p => p.ErrorCode == 0).Select(p => (Key: new SharePartitionKey(request.GroupId, r.TopicId, p.Partition), Result: p))).ToList();
        var replicated = await broker.ShareCoordinator.ReplicateAsync(answered.Select(a => a.Key)).ConfigureAwait(false);
        foreach (var (key, p) in answered)
        {
            if (replicated(key) is var error and not ErrorCode.None)
            {
                p.ErrorCode = (short)error;
                p.StartOffset = -1;
                p.StateBatches = [];
            }
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
