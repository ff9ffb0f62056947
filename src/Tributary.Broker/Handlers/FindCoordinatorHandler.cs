using System.Buffers.Text;
using System.Globalization;
using Tributary.Broker.Config;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Groups;
using Tributary.Broker.Security.Authorization;
using Tributary.Broker.ShareGroups;
using Tributary.Broker.Transactions;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// FindCoordinator v0-6.
// Behaviour:
// - Authorization: DESCRIBE on the group (GROUP_AUTHORIZATION_FAILED) or the transactional id
//   (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), per key; CLUSTER_ACTION on the cluster for share keys
//   (CLUSTER_AUTHORIZATION_FAILED: they are broker to broker).
// - A single node coordinates every group (key type 0) and every transactional id (key type 1), so the answer is
//   always this node's advertised address. Key type 2 (v6+, KIP-932) finds the share coordinator of a share
//   partition, key "groupId:topicId:partition" (else INVALID_REQUEST); other key types answer INVALID_REQUEST.
// - Cluster mode: a group's coordinator is the leader of partition abs(hash(group id)) % partitions of
//   __consumer_offsets (as Kafka), at its address on the request's listener. The first FindCoordinator creates the
//   topic in etcd with offsets.topic.num.partitions partitions and offsets.topic.replication.factor replicas;
//   COORDINATOR_NOT_AVAILABLE while fewer brokers are live, and while the partition has no live leader, as Kafka
//   answers. A transactional id's coordinator is the leader of its partition of __transaction_state the same way
//   (transaction.state.log.num.partitions, .replication.factor, min.insync.replicas transaction.state.log.min.isr).
//   A share partition's coordinator is the leader of partition abs(hash(key)) % partitions of __share_group_state
//   (Kafka's SharePartitionKey rule over the "groupId:topicId:partition" key; share.coordinator.state.topic.num.partitions,
//   .replication.factor), created the same way.
// Versions:
// - v4+ batch several keys (KIP-699), one answer per key; v6 adds key type 2.
public sealed class FindCoordinatorHandler(BrokerCore broker) : ApiHandler<FindCoordinatorRequest, FindCoordinatorResponse>(ApiKey.FindCoordinator, 0, 6)
{
    private const sbyte GroupKeyType = 0;
    private const sbyte TransactionKeyType = 1;
    private const sbyte ShareKeyType = 2;

    protected override ValueTask<HandlerResult<FindCoordinatorResponse>> HandleAsync(RequestContext context, FindCoordinatorRequest request, CancellationToken cancellationToken)
    {
        var supported = request.KeyType is GroupKeyType or TransactionKeyType || (request.KeyType == ShareKeyType && context.ApiVersion >= 6);
        if (context.ApiVersion >= 4)
        {
            return ValueTask.FromResult<HandlerResult<FindCoordinatorResponse>>(new FindCoordinatorResponse
            {
                Coordinators = [.. request.CoordinatorKeys.Select(key => !supported
                    ? new FindCoordinatorResponse.Coordinator { Key = key, NodeId = -1, ErrorCode = (short)ErrorCode.InvalidRequest, ErrorMessage = $"key type {request.KeyType} is not supported" }
                    : Denied(context, request.KeyType, key) is var denied and not ErrorCode.None
                    ? new FindCoordinatorResponse.Coordinator { Key = key, NodeId = -1, ErrorCode = (short)denied, ErrorMessage = null }
                    : Locate(context, request.KeyType, key) is var (located, nodeId, host, port) && located != ErrorCode.None
                    ? new FindCoordinatorResponse.Coordinator { Key = key, NodeId = -1, Port = -1, ErrorCode = (short)located, ErrorMessage = null }
                    : new FindCoordinatorResponse.Coordinator { Key = key, NodeId = nodeId, Host = host, Port = port, ErrorMessage = null })],
            });
        }

        if (supported && Denied(context, request.KeyType, request.Key) is var error and not ErrorCode.None)
        {
            return ValueTask.FromResult<HandlerResult<FindCoordinatorResponse>>(ErrorResponse(context, request, error)!);
        }

        var (located, nodeId, host, port) = supported ? Locate(context, request.KeyType, request.Key) : (ErrorCode.InvalidRequest, -1, "", -1);

        return ValueTask.FromResult<HandlerResult<FindCoordinatorResponse>>(!supported
            ? new FindCoordinatorResponse { NodeId = -1, ErrorCode = (short)ErrorCode.InvalidRequest, ErrorMessage = $"key type {request.KeyType} is not supported" }
            : located != ErrorCode.None
            ? ErrorResponse(context, request, located)!
            : new FindCoordinatorResponse { NodeId = nodeId, Host = host, Port = port, ErrorMessage = null });
    }

    // This node on a single node; in cluster mode the leader of the coordinator topic's partition that holds the key, at
    // its address on the listener the request came on.
    private (ErrorCode Error, int NodeId, string Host, int Port) Locate(RequestContext context, sbyte keyType, string key)
    {
        var listener = context.Connection.ListenerName;
        if (broker.Cluster is not { } cluster)
        {
            var (host, port) = broker.AdvertisedFor(listener);
            return (ErrorCode.None, broker.NodeId, host, port);
        }

        var (error, leader) = keyType switch
        {
            GroupKeyType => broker.CoordinatorNode(OffsetsTopicStore.TopicName, key, broker.Config.OffsetsTopicReplicationFactor, new Dictionary<string, string>()),
            TransactionKeyType => broker.CoordinatorNode(TransactionStateStore.TopicName, key, broker.Config.TransactionStateLogReplicationFactor,
                new Dictionary<string, string> { [TopicConfigs.MinInsyncReplicas] = broker.Config.TransactionStateLogMinIsr.ToString(CultureInfo.InvariantCulture) }),
            // As Kafka, the key is parsed and written again (SharePartitionKey.CoordinatorKey) before it is hashed.
            _ => broker.CoordinatorNode(ShareStateTopic.TopicName, ParseSharePartitionKey(key)!.Value.CoordinatorKey, broker.Config.ShareCoordinatorStateTopicReplicationFactor,
                new Dictionary<string, string> { [TopicConfigs.MinInsyncReplicas] = broker.Config.ShareCoordinatorStateTopicMinIsr.ToString(CultureInfo.InvariantCulture) }),
        };
        if (error != ErrorCode.None)
        {
            return (error, -1, "", -1);
        }

        return cluster.TryGetBroker(leader, out var node) && node.Endpoints.FirstOrDefault(e => e.Listener == listener) is { } endpoint
            ? (ErrorCode.None, leader, endpoint.Host, endpoint.Port)
            : (ErrorCode.CoordinatorNotAvailable, -1, "", -1);
    }

    private ErrorCode Denied(RequestContext context, sbyte keyType, string key) => keyType switch
    {
        GroupKeyType => broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Group, key) ? ErrorCode.None : ErrorCode.GroupAuthorizationFailed,
        TransactionKeyType => broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.TransactionalId, key) ? ErrorCode.None : ErrorCode.TransactionalIdAuthorizationFailed,
        _ => !broker.Authorizer.AuthorizeCluster(context, AclOperation.ClusterAction) ? ErrorCode.ClusterAuthorizationFailed
            : ParseSharePartitionKey(key) is not null ? ErrorCode.None : ErrorCode.InvalidRequest,
    };

    // Kafka's SharePartitionKey.validate: "groupId:topicId:partition", a non-empty group, a topic id as Kafka writes
    // it (16 bytes, URL-safe base64 without padding) and a partition number; null when the key is not one.
    private static SharePartitionKey? ParseSharePartitionKey(string key)
    {
        var parts = key.Split(':');
        Span<byte> id = stackalloc byte[24];
        return parts.Length == 3 && parts[0].Length > 0
            && Base64Url.TryDecodeFromChars(parts[1], id, out var written) && written == 16
            && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var partition)
            ? new SharePartitionKey(parts[0], new Guid(id[..16], bigEndian: true), partition)
            : null;
    }

    protected override FindCoordinatorResponse? ErrorResponse(RequestContext context, FindCoordinatorRequest request, ErrorCode error) => context.ApiVersion >= 4
        ? new FindCoordinatorResponse { Coordinators = [.. request.CoordinatorKeys.Select(key => new FindCoordinatorResponse.Coordinator { Key = key, NodeId = -1, ErrorCode = (short)error, ErrorMessage = null })] }
        : new FindCoordinatorResponse { NodeId = -1, ErrorCode = (short)error, ErrorMessage = null };
}
