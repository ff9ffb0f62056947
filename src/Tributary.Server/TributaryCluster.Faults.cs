using Tributary.Broker.Cluster;
using Tributary.Protocol.Messages;

namespace Tributary.Server;

/// <summary>
/// The replication links of a <see cref="TributaryCluster"/>'s brokers, wrapped: a paused broker's fetches wait until
/// it is resumed; a link to or from an isolated broker fails with an IOException, as a cut network does.
/// </summary>
internal sealed class ClusterFaults
{
    private readonly Lock _lock = new();
    private readonly Dictionary<int, TaskCompletionSource> _paused = [];
    private readonly HashSet<int> _isolated = [];

    public void Pause(int id)
    {
        lock (_lock)
        {
            _paused.TryAdd(id, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }
    }

    public void Resume(int id)
    {
        lock (_lock)
        {
            if (_paused.Remove(id, out var paused))
            {
                paused.SetResult();
            }
        }
    }

    public void Isolate(int id)
    {
        lock (_lock)
        {
            _isolated.Add(id);
        }
    }

    public void Heal(int id)
    {
        lock (_lock)
        {
            _isolated.Remove(id);
        }
    }

    public ReplicaLinkFactory Wrap(int from, ReplicaLinkFactory connect) => async (leader, cancellationToken) =>
    {
        await PassAsync(from, leader.NodeId, cancellationToken).ConfigureAwait(false);
        return new Link(this, from, leader.NodeId, await connect(leader, cancellationToken).ConfigureAwait(false));
    };

    // Waits while either end is paused, then fails if either is isolated.
    private async Task PassAsync(int from, int to, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task? paused;
            lock (_lock)
            {
                paused = _paused.TryGetValue(from, out var a) ? a.Task : _paused.TryGetValue(to, out var b) ? b.Task : null;
                if (paused is null)
                {
                    if (_isolated.Contains(from) || _isolated.Contains(to))
                    {
                        throw new IOException($"broker {from} and broker {to} are cut off from each other");
                    }

                    return;
                }
            }

            await paused.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private sealed class Link(ClusterFaults faults, int from, int to, IReplicaLink inner) : IReplicaLink
    {
        public async Task<FetchResponse> FetchAsync(FetchRequest request, CancellationToken cancellationToken)
        {
            await faults.PassAsync(from, to, cancellationToken).ConfigureAwait(false);
            var response = await inner.FetchAsync(request, cancellationToken).ConfigureAwait(false);

            // An answer that arrives after the cut is lost with it.
            await faults.PassAsync(from, to, cancellationToken).ConfigureAwait(false);
            return response;
        }

        public async Task<OffsetForLeaderEpochResponse> OffsetsForLeaderEpochAsync(OffsetForLeaderEpochRequest request, CancellationToken cancellationToken)
        {
            await faults.PassAsync(from, to, cancellationToken).ConfigureAwait(false);
            var response = await inner.OffsetsForLeaderEpochAsync(request, cancellationToken).ConfigureAwait(false);
            await faults.PassAsync(from, to, cancellationToken).ConfigureAwait(false);
            return response;
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
