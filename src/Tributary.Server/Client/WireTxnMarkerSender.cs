using Tributary.Broker.Cluster;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Server.Client;

/// <summary>
/// Cluster mode's WriteTxnMarkers (v1) from a transaction coordinator to another partition leader: one connection per
/// call to the leader's inter-broker listener (<see cref="InterBrokerConnector"/>), as the replica fetchers'.
/// Markers are sent once per ended transaction and leader, so the connection is not kept.
/// </summary>
public sealed class WireTxnMarkerSender(InterBrokerConnector connector, int localNodeId)
{
    public const short Version = 1;

    public async Task<WriteTxnMarkersResponse> SendAsync(ClusterBroker leader, WriteTxnMarkersRequest request, CancellationToken cancellationToken)
    {
        await using var client = await connector.ConnectAsync(leader, $"broker-{localNodeId}-txn-marker-sender", cancellationToken).ConfigureAwait(false);
        return await client.SendAsync<WriteTxnMarkersRequest, WriteTxnMarkersResponse>(ApiKey.WriteTxnMarkers, Version, request, cancellationToken).ConfigureAwait(false);
    }
}
