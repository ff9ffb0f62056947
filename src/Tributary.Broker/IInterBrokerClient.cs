using Tributary.Broker.Cluster;
using Tributary.Protocol;

namespace Tributary.Broker;

/// <summary>
/// Cluster mode: one request from this broker to another (the share-state RPCs of a data-partition leader to the share
/// coordinator). <c>Tributary.Server</c>'s implementation speaks the wire protocol; throws on a lost connection.
/// </summary>
public interface IInterBrokerClient
{
    Task<TResponse> SendAsync<TRequest, TResponse>(ClusterBroker target, ApiKey key, short version, TRequest request, CancellationToken cancellationToken)
        where TRequest : IKafkaMessage
        where TResponse : IKafkaMessage<TResponse>;
}
