using Tributary.Protocol.Messages;

namespace Tributary.Broker.Cluster;

/// <summary>
/// A follower's connection to its leader (one per leader, used by one fetch loop at a time): the two requests of
/// Kafka's replica fetcher. The server implements it over its wire client; tests may fake it.
/// </summary>
public interface IReplicaLink : IAsyncDisposable
{
    Task<FetchResponse> FetchAsync(FetchRequest request, CancellationToken cancellationToken);

    Task<OffsetForLeaderEpochResponse> OffsetsForLeaderEpochAsync(OffsetForLeaderEpochRequest request, CancellationToken cancellationToken);
}
