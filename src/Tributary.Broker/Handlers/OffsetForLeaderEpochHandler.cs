using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Storage;

namespace Tributary.Broker.Handlers;

// OffsetForLeaderEpoch v2-4 (KIP-101/279/320): for each partition, the largest leader epoch at or below the one asked
// and the offset where it ended (the next epoch's start; the log end offset for the current epoch), from the log's
// leader-epoch checkpoint.
//
// Behaviour:
// - Authorization: a follower (replica_id ≥ 0) needs CLUSTER_ACTION on the cluster, else every partition is
//   CLUSTER_AUTHORIZATION_FAILED; a consumer needs DESCRIBE on each topic, else TOPIC_AUTHORIZATION_FAILED.
// - Cluster mode (BrokerCore.Replicas): only the leader answers (NOT_LEADER_OR_FOLLOWER); an older
//   current_leader_epoch is FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH. An epoch newer than every one
//   known answers epoch -1, offset -1.
// - A single node is leader at epoch 0 from offset 0, as Metadata tells clients: epoch 0 ends at the log end offset
//   and a newer one is unknown (-1, -1).
// Versions: v2 adds current_leader_epoch, v3 replica_id; v4 is flexible.
public sealed class OffsetForLeaderEpochHandler(BrokerCore broker) : ApiHandler<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse>(ApiKey.OffsetForLeaderEpoch, 2, 4)
{
    protected override ValueTask<HandlerResult<OffsetForLeaderEpochResponse>> HandleAsync(RequestContext context, OffsetForLeaderEpochRequest request, CancellationToken cancellationToken)
    {
        var response = new OffsetForLeaderEpochResponse();
        var follower = request.ReplicaId >= 0;
        var clusterDenied = follower && !broker.Authorizer.AuthorizeCluster(context, AclOperation.ClusterAction);
        var replicas = broker.Replicas;
        foreach (var t in request.Topics)
        {
            var topicResult = new OffsetForLeaderEpochResponse.OffsetForLeaderTopicResult { Topic = t.Topic };
            response.Topics.Add(topicResult);
            var topic = broker.Metadata.Find(t.Topic);
            var denied = clusterDenied || (!follower && !broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Topic, t.Topic));
            foreach (var p in t.Partitions)
            {
                var result = new OffsetForLeaderEpochResponse.EpochEndOffset { Partition = p.Partition };
                topicResult.Partitions.Add(result);
                var log = topic is null || denied ? null : broker.FindLog(topic, p.Partition);
                if (log is null)
                {
                    result.ErrorCode = (short)(clusterDenied ? ErrorCode.ClusterAuthorizationFailed
                        : denied ? ErrorCode.TopicAuthorizationFailed
                        : topic is not null ? broker.MissingLogError(topic, p.Partition)
                        : ErrorCode.UnknownTopicOrPartition);
                    continue;
                }

                if (replicas is null)
                {
                    (result.LeaderEpoch, result.EndOffset) = p.LeaderEpoch == 0 ? (0, log.LogEndOffset) : (LeaderEpochCache.UndefinedEpoch, LeaderEpochCache.UndefinedOffset);
                    continue;
                }

                var error = replicas.CheckLeaderEpoch(t.Topic, p.Partition, p.CurrentLeaderEpoch);
                if (error != ErrorCode.None)
                {
                    result.ErrorCode = (short)error;
                    continue;
                }

                (result.LeaderEpoch, result.EndOffset) = log.LeaderEpochs.EndOffsetFor(p.LeaderEpoch, log.LogEndOffset);
            }
        }

        return new(new HandlerResult<OffsetForLeaderEpochResponse>(response));
    }

    protected override OffsetForLeaderEpochResponse? ErrorResponse(RequestContext context, OffsetForLeaderEpochRequest request, ErrorCode error) => new()
    {
        Topics = [.. request.Topics.Select(t => new OffsetForLeaderEpochResponse.OffsetForLeaderTopicResult
        {
            Topic = t.Topic,
            Partitions = [.. t.Partitions.Select(p => new OffsetForLeaderEpochResponse.EpochEndOffset { Partition = p.Partition, ErrorCode = (short)error })],
        })],
    };
}
