using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Broker.ShareGroups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// DeleteShareGroupState v0 (broker to broker, KIP-932: a share group or its offsets of a topic were deleted).
// Behaviour:
// - Authorization: CLUSTER_ACTION on the cluster, else CLUSTER_AUTHORIZATION_FAILED for every partition.
// - Served per partition by its share coordinator, the leader of the partition of __share_group_state that holds it
//   (SharePartitionKey.CoordinatorKey's hash): a partition whose state another broker coordinates answers
//   NOT_COORDINATOR in its own entry, COORDINATOR_LOAD_IN_PROGRESS while its state partition loads here.
// - Per partition: the state is tombstoned in __share_group_state (a partition without state too), answered once the
//   ISR has it.
public sealed class DeleteShareGroupStateHandler(BrokerCore broker) : ApiHandler<DeleteShareGroupStateRequest, DeleteShareGroupStateResponse>(ApiKey.DeleteShareGroupState, 0, 0)
{
    protected override async ValueTask<HandlerResult<DeleteShareGroupStateResponse>> HandleAsync(RequestContext context, DeleteShareGroupStateRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.AuthorizeCluster(context, AclOperation.ClusterAction))
        {
            return ErrorResponse(context, request, ErrorCode.ClusterAuthorizationFailed)!;
        }

        var response = new DeleteShareGroupStateResponse
        {
            Results = [.. request.Topics.Select(t => new DeleteShareGroupStateResponse.DeleteStateResult
            {
                TopicId = t.TopicId,
                Partitions = [.. t.Partitions.Select(p => new DeleteShareGroupStateResponse.PartitionResult
                {
                    Partition = p.Partition,
                    ErrorCode = (short)broker.ShareCoordinator.Delete(new SharePartitionKey(request.GroupId, t.TopicId, p.Partition)),
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

    protected override DeleteShareGroupStateResponse? ErrorResponse(RequestContext context, DeleteShareGroupStateRequest request, ErrorCode error) => new()
    {
        Results = [.. request.Topics.Select(t => new DeleteShareGroupStateResponse.DeleteStateResult
        {
            TopicId = t.TopicId,
            Partitions = [.. t.Partitions.Select(p => new DeleteShareGroupStateResponse.PartitionResult { Partition = p.Partition, ErrorCode = (short)error, ErrorMessage = null })],
        })],
    };
}
