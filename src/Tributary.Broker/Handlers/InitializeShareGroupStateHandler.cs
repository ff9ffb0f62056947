using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Broker.ShareGroups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// InitializeShareGroupState v0 (broker to broker, KIP-932: a share partition's state starts at a start offset).
// Behaviour:
// - Authorization: CLUSTER_ACTION on the cluster, else CLUSTER_AUTHORIZATION_FAILED for every partition.
// - Served per partition by its share coordinator, the leader of the partition of __share_group_state that holds it
//   (SharePartitionKey.CoordinatorKey's hash): a partition whose state another broker coordinates answers
//   NOT_COORDINATOR in its own entry, COORDINATOR_LOAD_IN_PROGRESS while its state partition loads here.
// - Per partition: the state becomes the start offset at the state epoch with nothing in flight, answered once the
//   ISR of __share_group_state has it; a state epoch below the stored one is FENCED_STATE_EPOCH.
public sealed class InitializeShareGroupStateHandler(BrokerCore broker) : ApiHandler<InitializeShareGroupStateRequest, InitializeShareGroupStateResponse>(ApiKey.InitializeShareGroupState, 0, 0)
{
    protected override async ValueTask<HandlerResult<InitializeShareGroupStateResponse>> HandleAsync(RequestContext context, InitializeShareGroupStateRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.AuthorizeCluster(context, AclOperation.ClusterAction))
        {
            return ErrorResponse(context, request, ErrorCode.ClusterAuthorizationFailed)!;
        }

        var response = new InitializeShareGroupStateResponse
        {
            Results = [.. request.Topics.Select(t => new InitializeShareGroupStateResponse.InitializeStateResult
            {
                TopicId = t.TopicId,
                Partitions = [.. t.Partitions.Select(p => new InitializeShareGroupStateResponse.PartitionResult
                {
                    Partition = p.Partition,
                    ErrorCode = (short)broker.ShareCoordinator.Initialize(new SharePartitionKey(request.GroupId, t.TopicId, p.Partition), p.StateEpoch, p.StartOffset),
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

    protected override InitializeShareGroupStateResponse? ErrorResponse(RequestContext context, InitializeShareGroupStateRequest request, ErrorCode error) => new()
    {
        Results = [.. request.Topics.Select(t => new InitializeShareGroupStateResponse.InitializeStateResult
        {
            TopicId = t.TopicId,
            Partitions = [.. t.Partitions.Select(p => new InitializeShareGroupStateResponse.PartitionResult { Partition = p.Partition, ErrorCode = (short)error, ErrorMessage = null })],
        })],
    };
}
