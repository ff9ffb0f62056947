using Tributary.Broker;
using Tributary.Broker.Cluster;
using Tributary.Protocol;

namespace Tributary.Server.Client;

/// <summary>
/// <see cref="IInterBrokerClient"/> over <see cref="KafkaWireClient"/>: one plaintext connection per call to the
/// target's first registered endpoint, as <see cref="WireTxnMarkerSender"/> sends markers.
/// </summary>
public sealed class WireInterBrokerClient : IInterBrokerClient
{
    public async Task<TResponse> SendAsync<TRequest, TResponse>(ClusterBroker target, ApiKey key, short version, TRequest request, CancellationToken cancellationToken)
        where TRequest : IKafkaMessage
        where TResponse : IKafkaMessage<TResponse>
    {
        var endpoint = target.Endpoints.Count > 0 ? target.Endpoints[0] : throw new InvalidOperationException($"broker {target.NodeId} registered no endpoint");
        await using var client = await KafkaWireClient.ConnectAsync($"{endpoint.Host}:{endpoint.Port}", cancellationToken).ConfigureAwait(false);
        return await client.SendAsync<TRequest, TResponse>(key, version, request, cancellationToken).ConfigureAwait(false);
    }
}
