using Tributary.Broker.Cluster;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Server.Client;

/// <summary>
/// Cluster mode's WriteTxnMarkers (v1) from a transaction coordinator to another partition leader: one connection per
/// call to the leader's first registered endpoint, plaintext as the replica fetchers' (<see cref="WireReplicaLink"/>).
/// Markers are sent once per ended transaction and leader, so the connection is not kept.
/// </summary>
public static class WireTxnMarkerSender
{
    public const short Version = 1;

    public static async Task<WriteTxnMarkersResponse> SendAsync(ClusterBroker leader, WriteTxnMarkersRequest request, CancellationToken cancellationToken)
    {
        var endpoint = leader.Endpoints.Count > 0 ? leader.Endpoints[0] : throw new InvalidOperationException($"broker {leader.NodeId} registered no endpoint");
        await using var client = await KafkaWireClient.ConnectAsync($"{endpoint.Host}:{endpoint.Port}", cancellationToken).ConfigureAwait(false);
        return await client.SendAsync<WriteTxnMarkersRequest, WriteTxnMarkersResponse>(ApiKey.WriteTxnMarkers, Version, request, cancellationToken).ConfigureAwait(false);
    }
}
