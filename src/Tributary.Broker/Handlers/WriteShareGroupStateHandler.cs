using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Broker.ShareGroups;
using Tributary.Protocol;
using Tributary.Protocol.CoordinatorRecords;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// WriteShareGroupState v0-1 (broker to broker, KIP-932: a share partition's leader writes its state to the share
// coordinator).
// Behaviour:
// - Authorization: CLUSTER_ACTION on the cluster, else CLUSTER_AUTHORIZATION_FAILED for every partition.
// - Served per partition by its share coordinator, the leader of the partition of __share_group_state that holds it
//   (SharePartitionKey.CoordinatorKey's hash): a partition whose state another broker coordinates answers
//   NOT_COORDINATOR in its own entry, COORDINATOR_LOAD_IN_PROGRESS while its state partition loads here.
// - Per partition, as Kafka's ShareUpdate: the batches replace the state of the offsets they cover and the start
//   offset moves forward; answered once the ISR of __share_group_state has the write. A leader epoch below the stored
//   one is FENCED_LEADER_EPOCH, a state epoch below it FENCED_STATE_EPOCH.
// Deviations from Kafka:
// - A state epoch above the stored one starts the state afresh (Tributary's brokers reset a share partition this way;
//   Kafka's group coordinator calls InitializeShareGroupState). Every change is stored as a ShareSnapshot record.
public sealed class WriteShareGroupStateHandler(BrokerCore broker) : ApiHandler<WriteShareGroupStateRequest, WriteShareGroupStateResponse>(ApiKey.WriteShareGroupState, 0, 1)
{
    protected override async ValueTask<HandlerResult<WriteShareGroupStateResponse>> HandleAsync(RequestContext context, WriteShareGroupStateRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.AuthorizeCluster(context, AclOperation.ClusterAction))
        {
            return ErrorResponse(context, request, ErrorCode.ClusterAuthorizationFailed)!;
        }

        var response = new WriteShareGroupStateResponse
        {
            Results = [.. request.Topics.Select(t => new WriteShareGroupStateResponse.WriteStateResult
            {
                TopicId = t.TopicId,
                Partitions = [.. t.Partitions.Select(p => new WriteShareGroupStateResponse.PartitionResult
                {
                    Partition = p.Partition,
                    ErrorCode = (short)broker.ShareCoordinator.Write(new SharePartitionKey(request.GroupId, t.TopicId, p.Partition), p.StateEpoch, p.LeaderEpoch, p.StartOffset,
                        [.. p.StateBatches.Select(b => new ShareSnapshotValue.StateBatch { FirstOffset = b.FirstOffset, LastOffset = b.LastOffset, DeliveryState = b.DeliveryState, DeliveryCount = b.DeliveryCount })]),
                    ErrorMessage = null,
                })],
            })],
        };
        var written = response.Results.SelectMany(r => r.Partitions.Where(p => p.ErrorCode == 0).Select(p => (Key: new SharePartitionKey(request.GroupId, r.TopicId, p.Partition), Result: p))).ToList();
        var replicated = await broker.ShareCoordinator.ReplicateAsync(written.Select(w => w.Key)).ConfigureAwait(false);
        foreach (var (key, p) in written)
        {
            p.ErrorCode = (short)replicated(key);
        }

        return response;
    }

    protected override WriteShareGroupStateResponse? ErrorResponse(RequestContext context, WriteShareGroupStateRequest request, ErrorCode error) => new()
    {
        Results = [.. request.Topics.Select(t => new WriteShareGroupStateResponse.WriteStateResult
        {
            TopicId = t.TopicId,
            Partitions = [.. t.Partitions.Select(p => new WriteShareGroupStateResponse.PartitionResult { Partition = p.Partition, ErrorCode = (short)error, ErrorMessage = null })],
        })],
    };
}
