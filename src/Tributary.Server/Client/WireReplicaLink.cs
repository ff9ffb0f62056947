using Tributary.Broker.Cluster;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Server.Client;

/// <summary>
/// A follower's connection to its leader over <see cref="KafkaWireClient"/>: Fetch v12 (topics by name, so the
/// follower needs no topic id; replica_id in the request body) and OffsetForLeaderEpoch v4. Plaintext to the leader's
/// first registered endpoint; inter-broker TLS and SASL are not implemented yet.
/// </summary>
public sealed class WireReplicaLink : IReplicaLink
{
    public const short FetchVersion = 12;

    public const short OffsetForLeaderEpochVersion = 4;

    private readonly KafkaWireClient _client;

    private WireReplicaLink(KafkaWireClient client, int localNodeId)
    {
        _client = client;
        _client.ClientId = $"broker-{localNodeId}-fetcher-0";
    }

    /// <summary>
    /// The <see cref="ReplicaLinkFactory"/> of broker <paramref name="localNodeId"/>: connects to the leader's first
    /// endpoint with Kafka's client id for a replica fetcher, <c>broker-&lt;id&gt;-fetcher-0</c>.
    /// </summary>
    public static ReplicaLinkFactory ConnectorFor(int localNodeId) => async (leader, cancellationToken) =>
    {
        var endpoint = leader.Endpoints.Count > 0 ? leader.Endpoints[0] : throw new InvalidOperationException($"broker {leader.NodeId} registered no endpoint");
        var client = await KafkaWireClient.ConnectAsync($"{endpoint.Host}:{endpoint.Port}", cancellationToken).ConfigureAwait(false);
        return new WireReplicaLink(client, localNodeId);
    };

    public Task<FetchResponse> FetchAsync(FetchRequest request, CancellationToken cancellationToken) =>
        _client.SendAsync<FetchRequest, FetchResponse>(ApiKey.Fetch, FetchVersion, request, cancellationToken);

    public Task<OffsetForLeaderEpochResponse> OffsetsForLeaderEpochAsync(OffsetForLeaderEpochRequest request, CancellationToken cancellationToken) =>
        _client.SendAsync<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse>(ApiKey.OffsetForLeaderEpoch, OffsetForLeaderEpochVersion, request, cancellationToken);

    public ValueTask DisposeAsync() => _client.DisposeAsync();
}
