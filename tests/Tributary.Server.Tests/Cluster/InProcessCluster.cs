using Tributary.Broker.Cluster;
using Tributary.Storage;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// A test-only control plane for brokers in this process (issue #32 allows it for tests; etcd is the production
/// path): it holds each partition's state, answers AlterIsr by compare-and-swap on the leader and partition epochs,
/// and tells each replica's broker every new state through its <see cref="IReplicaRoleSink"/>. A test may hold
/// back a state from some brokers (a broker cut off from the control plane) and deliver it later.
/// </summary>
internal sealed class InProcessCluster : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<int, TributaryBroker> _brokers = [];
    private readonly Dictionary<int, ReplicaManager> _sinks = [];
    private readonly Dictionary<(string Topic, int Partition), PartitionState> _states = [];
    private readonly HashSet<int> _cutOff = [];

    private InProcessCluster()
    {
    }

    public static async Task<InProcessCluster> StartAsync(int brokers, IReadOnlyDictionary<string, string>? config = null)
    {
        var cluster = new InProcessCluster();
        try
        {
            for (var id = 1; id <= brokers; id++)
            {
                var options = new TributaryBrokerOptions();
                options.Config["node.id"] = id.ToString(System.Globalization.CultureInfo.InvariantCulture);
                foreach (var (key, value) in config ?? new Dictionary<string, string>())
                {
                    options.Config[key] = value;
                }

                var broker = await TributaryBroker.StartAsync(options);
                lock (cluster._lock)
                {
                    cluster._brokers[id] = broker;
                }

                cluster._sinks[id] = broker.StartReplication(new Control(cluster, id));
            }
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    public TributaryBroker Broker(int id) => _brokers[id];

    public PartitionLog Log(int id, string topic, int partition = 0)
    {
        var core = _brokers[id].Core;
        return core.FindLog(core.Metadata.Find(topic)!, partition)!;
    }

    public PartitionState State(string topic, int partition = 0)
    {
        lock (_lock)
        {
            return _states[(topic, partition)];
        }
    }

    /// <summary>Creates the topic on every broker and makes the first replica leader at epoch 0 with all replicas in sync.</summary>
    public async Task CreateTopicAsync(string topic, int[] replicas, IReadOnlyDictionary<string, string>? configs = null)
    {
        foreach (var broker in _brokers.Values)
        {
            await broker.CreateTopicAsync(topic, 1, configs);
        }

        var state = new PartitionState(topic, Guid.NewGuid(), 0, replicas, replicas[0], 0, replicas, 0);
        lock (_lock)
        {
            _states[(topic, 0)] = state;
        }

        await DeliverAsync(state);
    }

    /// <summary>A new leader (and ISR) at the next leader epoch, told to every replica the control plane reaches.</summary>
    public async Task ElectAsync(string topic, int leader, int[] isr)
    {
        PartitionState state;
        lock (_lock)
        {
            var old = _states[(topic, 0)];
            state = old with { Leader = leader, LeaderEpoch = old.LeaderEpoch + 1, Isr = isr, PartitionEpoch = old.PartitionEpoch + 1 };
            _states[(topic, 0)] = state;
        }

        await DeliverAsync(state);
    }

    /// <summary>The broker no longer hears from the control plane (its states are held back) until <see cref="ReconnectAsync"/>.</summary>
    public void CutOff(int id)
    {
        lock (_lock)
        {
            _cutOff.Add(id);
        }
    }

    /// <summary>The broker hears from the control plane again and gets the current state of every partition.</summary>
    public async Task ReconnectAsync(int id)
    {
        List<PartitionState> states;
        lock (_lock)
        {
            _cutOff.Remove(id);
            states = [.. _states.Values];
        }

        foreach (var state in states.Where(s => s.Replicas.Contains(id)))
        {
            await _sinks[id].ApplyAsync(state, CancellationToken.None);
        }
    }

    /// <summary>Stops a broker as a crash would look to the others: it stops fetching and answering, and leaves the cluster.</summary>
    public async Task StopBrokerAsync(int id)
    {
        TributaryBroker broker;
        lock (_lock)
        {
            broker = _brokers[id];
            _brokers.Remove(id);
            _sinks.Remove(id);
        }

        await broker.DisposeAsync();
    }

    private async Task DeliverAsync(PartitionState state)
    {
        List<ReplicaManager> sinks;
        lock (_lock)
        {
            sinks = [.. state.Replicas.Where(id => _sinks.ContainsKey(id) && !_cutOff.Contains(id)).Select(id => _sinks[id])];
        }

        foreach (var sink in sinks)
        {
            await sink.ApplyAsync(state, CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<TributaryBroker> brokers;
        lock (_lock)
        {
            brokers = [.. _brokers.Values];
            _brokers.Clear();
            _sinks.Clear();
        }

        foreach (var broker in brokers)
        {
            await broker.DisposeAsync();
        }
    }

    private sealed class Control(InProcessCluster cluster, int nodeId) : IClusterControl
    {
        public int LocalNodeId => nodeId;

        public bool TryGetBroker(int id, out ClusterBroker broker)
        {
            lock (cluster._lock)
            {
                if (cluster._brokers.TryGetValue(id, out var running))
                {
                    broker = new ClusterBroker(id, null, [new ClusterEndpoint("PLAINTEXT", running.Host, running.Port)]);
                    return true;
                }
            }

            broker = null!;
            return false;
        }

        public async Task<bool> AlterIsrAsync(PartitionState current, int[] newIsr, CancellationToken cancellationToken)
        {
            PartitionState written;
            lock (cluster._lock)
            {
                var key = (current.Topic, current.Partition);
                var stored = cluster._states[key];
                if (cluster._cutOff.Contains(nodeId) || stored.LeaderEpoch != current.LeaderEpoch || stored.PartitionEpoch != current.PartitionEpoch)
                {
                    return false;
                }

                written = stored with { Isr = newIsr, PartitionEpoch = stored.PartitionEpoch + 1 };
                cluster._states[key] = written;
            }

            await cluster.DeliverAsync(written);
            return true;
        }
    }
}
