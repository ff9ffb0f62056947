using Tributary.Broker;
using Tributary.Broker.Cluster;
using Tributary.Protocol;

namespace Tributary.Server.Client;

/// <summary>
/// <see cref="IInterBrokerClient"/> over <see cref="KafkaWireClient"/>: one connection per call to the target's
/// inter-broker listener (<see cref="InterBrokerConnector"/>), as <see cref="WireTxnMarkerSender"/> sends markers.
/// </summary>
public sealed class WireInterBrokerClient(InterBrokerConnector connector, int localNodeId) : IInterBrokerClient
{
    public async Task<TResponse> SendAsync<TRequest, TResponse>(ClusterBroker target, ApiKey key, short version, TRequest request, CancellationToken cancellationToken)
        where TRequest : IKafkaMessage
        where TResponse : IKafkaMessage<TResponse>
    {
        await using var client = await connector.ConnectAsync(target, $"broker-{localNodeId}", cancellationToken).ConfigureAwait(false);
        return await client.SendAsync<TRequest, TResponse>(key, version, request, cancellationToken).ConfigureAwait(false);
    }
}
