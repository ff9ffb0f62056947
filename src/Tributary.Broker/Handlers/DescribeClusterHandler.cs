using Tributary.Broker.Cluster;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// DescribeCluster v0-1 (KIP-700).
// Behaviour:
// - The cluster is this broker: the only broker listed, and the controller. In cluster mode (etcd): the live brokers
//   at their address on the request's listener and the elected controller, from the cache of the cluster metadata.
// - Authorization: none needed. Authorized operations, when asked for, are those the ACLs allow on the cluster
//   (every one without an authorizer; none without DESCRIBE on the cluster); else "not requested" (-2^31).
// Versions:
// - v1's endpoint_type must be 1 (brokers); 2 (controllers) gets UNSUPPORTED_ENDPOINT_TYPE, as a Kafka broker
//   answers, since there is no separate controller endpoint.
public sealed class DescribeClusterHandler(BrokerCore broker) : ApiHandler<DescribeClusterRequest, DescribeClusterResponse>(ApiKey.DescribeCluster, 0, 1)
{
    private const sbyte BrokersEndpoint = 1;

    protected override ValueTask<HandlerResult<DescribeClusterResponse>> HandleAsync(RequestContext context, DescribeClusterRequest request, CancellationToken cancellationToken)
    {
        // Below v1 the request carries no endpoint_type and reads as the default, brokers.
        if (request.EndpointType != BrokersEndpoint)
        {
            return ValueTask.FromResult<HandlerResult<DescribeClusterResponse>>(Error(request, ErrorCode.UnsupportedEndpointType, $"endpoint type {request.EndpointType} is not supported: only brokers (1)"));
        }

        var advertised = broker.AdvertisedFor(context.Connection.ListenerName);
        return ValueTask.FromResult<HandlerResult<DescribeClusterResponse>>(new DescribeClusterResponse
        {
            EndpointType = BrokersEndpoint,
            ClusterId = broker.ClusterId,
            ControllerId = broker.Cluster?.ControllerId ?? broker.NodeId,
            Brokers = broker.Cluster is { } cluster ? ClusterBrokers(cluster, context.Connection.ListenerName)
                : [new DescribeClusterResponse.DescribeClusterBroker { BrokerId = broker.NodeId, Host = advertised.Host, Port = advertised.Port, Rack = null }],
            ClusterAuthorizedOperations = request.IncludeClusterAuthorizedOperations ? ClusterOperations(context) : AuthorizedOperations.Omitted,
        });
    }

    private static List<DescribeClusterResponse.DescribeClusterBroker> ClusterBrokers(ClusterNode cluster, string listener) => [.. cluster.BrokersOn(listener)
        .Select(b => new DescribeClusterResponse.DescribeClusterBroker { BrokerId = b.Broker.NodeId, Host = b.Endpoint.Host, Port = b.Endpoint.Port, Rack = b.Broker.Rack })];

    // As Kafka: the operations only for a caller with DESCRIBE on the cluster, else none.
    private int ClusterOperations(RequestContext context) => broker.Authorizer.AuthorizeCluster(context, AclOperation.Describe)
        ? broker.Authorizer.AuthorizedOperations(context.Connection, AclResourceType.Cluster, AclBinding.ClusterName)
        : 0;

    private DescribeClusterResponse Error(DescribeClusterRequest request, ErrorCode error, string? message) => new()
    {
        ErrorCode = (short)error,
        ErrorMessage = message,
        EndpointType = request.EndpointType,
        ClusterId = broker.ClusterId,
        ControllerId = -1,
        ClusterAuthorizedOperations = AuthorizedOperations.Omitted,
    };

    protected override DescribeClusterResponse? ErrorResponse(RequestContext context, DescribeClusterRequest request, ErrorCode error) =>
        Error(request, error, null);
}
