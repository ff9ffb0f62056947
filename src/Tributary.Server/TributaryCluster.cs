using System.Globalization;
using Tributary.Broker.Cluster;

namespace Tributary.Server;

/// <summary>
/// Several embedded brokers joined into one cluster over an etcd this fixture starts (Debian's /usr/bin/etcd, or
/// TRIBUTARY_ETCD; 3 members or 1 on loopback ports, data in a temporary directory), for .NET tests of a client's
/// failover. Clients reach each broker through an in-process TCP proxy (<see cref="BootstrapServers"/>), and each
/// broker reaches etcd through its own proxies, so faults can be injected from outside the broker:
/// <list type="bullet">
/// <item><see cref="KillBrokerAsync"/>: the broker stops at once with no controlled shutdown and without revoking its
/// lease, which ends after tributary.metadata.etcd.lease.ms as a killed process's would (its logs are closed cleanly:
/// a torn write is not simulated). <see cref="StartBrokerAsync"/> brings it back on its data.</item>
/// <item><see cref="PauseBroker"/> / <see cref="ResumeBroker"/>: as SIGSTOP / SIGCONT seen from outside: its client
/// connections, its etcd connections and its replica fetches hold their bytes (nothing is answered, no keepalive
/// reaches etcd, so its lease ends), while its own timers still run inside the process.</item>
/// <item><see cref="CutFromEtcd"/> / <see cref="ReconnectToEtcd"/>: the broker's etcd connections go silent and
/// new ones fail, while clients and peers still reach it.</item>
/// <item><see cref="Isolate"/> / <see cref="Heal"/>: replication to and from the broker fails (peers cannot fetch from
/// it, it cannot fetch from them) while etcd and clients still reach it.</item>
/// </list>
/// </summary>
public sealed class TributaryCluster : IAsyncDisposable
{
    private const string Prefix = "/tributary-cluster";

    private readonly string _root;
    private readonly EtcdProcesses _etcd;
    private readonly Action<int, TributaryBrokerOptions>? _configure;
    private readonly ClusterFaults _faults = new();
    private readonly SortedDictionary<int, Node> _nodes = [];

    private TributaryCluster(string root, EtcdProcesses etcd, Action<int, TributaryBrokerOptions>? configure)
    {
        _root = root;
        _etcd = etcd;
        _configure = configure;
    }

    /// <summary>The client URLs of the etcd members, comma-separated.</summary>
    public string EtcdEndpoints => _etcd.Endpoints;

    /// <summary>Every broker's client address (its proxy), comma-separated, for bootstrap.servers.</summary>
    public string BootstrapServers => string.Join(",", _nodes.Values.Select(n => n.ClientProxy.Address));

    /// <summary>The running brokers by node id.</summary>
    public IReadOnlyDictionary<int, TributaryBroker> Brokers =>
        _nodes.Where(n => n.Value.Broker is not null).ToDictionary(n => n.Key, n => n.Value.Broker!);

    /// <summary>
    /// Starts etcd (<paramref name="etcdMembers"/>: 3 or 1) and <paramref name="brokers"/> brokers with node ids 1…n,
    /// and waits until every broker sees all of them. <paramref name="configure"/> may change each broker's options
    /// (node id, options) before it starts; default.replication.factor is min(3, brokers).
    /// </summary>
    public static async Task<TributaryCluster> StartAsync(int brokers = 3, int etcdMembers = 3,
        Action<int, TributaryBrokerOptions>? configure = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        if (etcdMembers is not (1 or 3))
        {
            throw new ArgumentOutOfRangeException(nameof(etcdMembers), "etcd runs with 1 or 3 members");
        }

        var root = Directory.CreateTempSubdirectory("tributary-cluster-").FullName;
        var etcd = await EtcdProcesses.StartAsync(Path.Combine(root, "etcd"), etcdMembers, cancellationToken).ConfigureAwait(false);
        var cluster = new TributaryCluster(root, etcd, configure);
        try
        {
            for (var id = 1; id <= brokers; id++)
            {
                cluster._nodes[id] = new Node(id, etcd.ClientEndpoints);
                await cluster.StartBrokerAsync(id, cancellationToken).ConfigureAwait(false);
            }

            await cluster.WaitAsync(() => cluster._nodes.Values.All(n => n.Broker!.Core.Cluster!.LiveBrokers.Count == brokers), cancellationToken).ConfigureAwait(false);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The running broker of node <paramref name="id"/>.</summary>
    public TributaryBroker Broker(int id) => _nodes[id].Broker ?? throw new InvalidOperationException($"broker {id} is not running");

    /// <summary>The partition's leader as broker <paramref name="observer"/> (default: the first running one) sees it; -1 when none.</summary>
    public int LeaderOf(string topic, int partition, int? observer = null)
    {
        var broker = observer is { } id ? Broker(id) : _nodes.Values.First(n => n.Broker is not null).Broker!;
        return broker.Core.Cluster!.TryGetPartition(topic, partition, out var state) ? state.Leader : -1;
    }

    /// <summary>Broker <paramref name="id"/>'s data directory; a test may empty it while the broker is stopped (a lost disk).</summary>
    public string DataDirectory(int id) => Path.Combine(_root, "broker-" + id.ToString(CultureInfo.InvariantCulture));

    /// <summary>Starts broker <paramref name="id"/> (again) on its data directory, listener port and proxies.</summary>
    public async Task StartBrokerAsync(int id, CancellationToken cancellationToken = default)
    {
        var node = _nodes[id];
        if (node.Broker is not null)
        {
            throw new InvalidOperationException($"broker {id} is running");
        }

        var options = new TributaryBrokerOptions
        {
            InMemory = false,
            DataDirectory = DataDirectory(id),
            KeepDataDirectory = true,
            Port = node.Port,
            WrapReplicaLinks = connect => _faults.Wrap(id, connect),
        };
        options.Config["node.id"] = id.ToString(CultureInfo.InvariantCulture);
        options.Config["advertised.listeners"] = "PLAINTEXT://" + node.ClientProxy.Address;
        options.Config["tributary.metadata.etcd.endpoints"] = string.Join(",", node.EtcdProxies.Select(p => "http://" + p.Address));
        options.Config["tributary.metadata.etcd.prefix"] = Prefix;
        options.Config["tributary.metadata.etcd.lease.ms"] = "2000";
        options.Config["default.replication.factor"] = Math.Min(3, _nodes.Count).ToString(CultureInfo.InvariantCulture);
        _configure?.Invoke(id, options);
        node.Broker = await TributaryBroker.StartAsync(options, cancellationToken).ConfigureAwait(false);
        node.Port = node.Broker.Port;
        node.ClientProxy.Target = node.Port;
    }

    /// <summary>Stops broker <paramref name="id"/> cleanly: a controlled shutdown moves its leaderships first.</summary>
    public async Task StopBrokerAsync(int id)
    {
        var node = _nodes[id];
        var broker = node.Broker ?? throw new InvalidOperationException($"broker {id} is not running");
        node.Broker = null;
        await broker.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Stops broker <paramref name="id"/> abruptly: no controlled shutdown, the lease left to expire.</summary>
    public async Task KillBrokerAsync(int id)
    {
        var node = _nodes[id];
        var broker = node.Broker ?? throw new InvalidOperationException($"broker {id} is not running");
        node.Broker = null;
        node.ClientProxy.Reset();
        await broker.KillAsync().ConfigureAwait(false);
    }

    /// <summary>Freezes broker <paramref name="id"/> as SIGSTOP would look from outside (see the type's summary).</summary>
    public void PauseBroker(int id)
    {
        var node = _nodes[id];
        node.ClientProxy.Freeze();
        foreach (var proxy in node.EtcdProxies)
        {
            proxy.Freeze();
        }

        _faults.Pause(id);
    }

    /// <summary>Lets a paused broker go on: held bytes flow again, in order.</summary>
    public void ResumeBroker(int id)
    {
        var node = _nodes[id];
        _faults.Resume(id);
        foreach (var proxy in node.EtcdProxies)
        {
            proxy.Thaw();
        }

        node.ClientProxy.Thaw();
    }

    /// <summary>
    /// Cuts broker <paramref name="id"/> off from etcd only, as a blackhole route would: its open etcd connections go
    /// silent (bytes are held, nothing is answered or reset) and new ones are closed at once; clients and peers still
    /// reach it.
    /// </summary>
    public void CutFromEtcd(int id)
    {
        foreach (var proxy in _nodes[id].EtcdProxies)
        {
            proxy.Freeze();
            proxy.Target = 0;
        }
    }

    /// <summary>Ends <see cref="CutFromEtcd"/>: new connections reach etcd again and held bytes flow.</summary>
    public void ReconnectToEtcd(int id)
    {
        var node = _nodes[id];
        for (var i = 0; i < node.EtcdProxies.Count; i++)
        {
            node.EtcdProxies[i].Target = _etcd.ClientEndpoints[i].Port;
            node.EtcdProxies[i].Thaw();
        }
    }

    /// <summary>Cuts broker <paramref name="id"/> off from its peers (replication both ways), not from etcd or clients.</summary>
    public void Isolate(int id) => _faults.Isolate(id);

    /// <summary>Joins an isolated broker to its peers again.</summary>
    public void Heal(int id) => _faults.Heal(id);

    /// <summary>Waits (up to a minute) until <paramref name="condition"/> holds.</summary>
    public async Task WaitAsync(Func<bool> condition, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the cluster did not reach the expected state within a minute");
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes.Values)
        {
            _faults.Resume(node.Id);
            _faults.Heal(node.Id);
            if (node.Broker is { } broker)
            {
                node.Broker = null;
                await broker.KillAsync().ConfigureAwait(false);
            }

            await node.DisposeAsync().ConfigureAwait(false);
        }

        await _etcd.DisposeAsync().ConfigureAwait(false);
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed class Node(int id, IReadOnlyList<System.Net.IPEndPoint> etcd) : IAsyncDisposable
    {
        public int Id { get; } = id;

        public int Port { get; set; }

        public TributaryBroker? Broker { get; set; }

        public LoopbackProxy ClientProxy { get; } = new(0);

        public IReadOnlyList<LoopbackProxy> EtcdProxies { get; } = [.. etcd.Select(e => new LoopbackProxy(e.Port))];

        public async ValueTask DisposeAsync()
        {
            await ClientProxy.DisposeAsync().ConfigureAwait(false);
            foreach (var proxy in EtcdProxies)
            {
                await proxy.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
