using Tributary.Broker.Cluster;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Server.Client;

/// <summary>
/// A follower's connection to its leader over <see cref="KafkaWireClient"/>: Fetch v12 (topics by name, so the
/// follower needs no topic id; replica_id in the request body) and OffsetForLeaderEpoch v4, on the leader's inter-broker
/// listener with its security (<see cref="InterBrokerConnector"/>).
/// </summary>
public sealed class WireReplicaLink : IReplicaLink
{
    public const short FetchVersion = 12;

    public const short OffsetForLeaderEpochVersion = 4;

    private readonly KafkaWireClient _client;

    private WireReplicaLink(KafkaWireClient client)
    {
        _client = client;
    }

    /// <summary>
    /// The <see cref="ReplicaLinkFactory"/> of broker <paramref name="localNodeId"/>: connects to the leader with Kafka's
    /// client id for a replica fetcher, <c>broker-&lt;id&gt;-fetcher-0</c>.
    /// </summary>
    public static ReplicaLinkFactory ConnectorFor(int localNodeId, InterBrokerConnector connector) => async (leader, cancellationToken) =>
        new WireReplicaLink(await connector.ConnectAsync(leader, $"broker-{localNodeId}-fetcher-0", cancellationToken).ConfigureAwait(false));

    public Task<FetchResponse> FetchAsync(FetchRequest request, CancellationToken cancellationToken) =>
        _client.SendAsync<FetchRequest, FetchResponse>(ApiKey.Fetch, FetchVersion, request, cancellationToken);

    public Task<OffsetForLeaderEpochResponse> OffsetsForLeaderEpochAsync(OffsetForLeaderEpochRequest request, CancellationToken cancellationToken) =>
        _client.SendAsync<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse>(ApiKey.OffsetForLeaderEpoch, OffsetForLeaderEpochVersion, request, cancellationToken);

    public ValueTask DisposeAsync() => _client.DisposeAsync();
}
