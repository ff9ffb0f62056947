using System.Globalization;
using Confluent.Kafka;
using Tributary.Interop.Tests.Support;
using Tributary.Tests.Shared.Cluster;

namespace Tributary.Interop.Tests.Chaos;

/// <summary>
/// A real cluster of processes on loopback: Debian's etcd with three members and three brokers, each the built
/// <c>tributary serve</c> with its own port and data directory, killed, paused or wiped by process id. Given
/// <see cref="NetworkNamespaces"/>, etcd's members run in host <see cref="EtcdHost"/> and each broker in its own
/// (<see cref="BrokerHost"/>), so links between them can be cut.
/// </summary>
public sealed class BrokerProcessCluster : IAsyncDisposable
{
    public static readonly int[] BrokerIds = [1, 2, 3];
    public const string EtcdHost = "etcd";
    private const int NamespacedBrokerPort = 9092;
    private static readonly TimeSpan MetadataTimeout = TimeSpan.FromSeconds(3);

    private readonly Dictionary<int, StandaloneBroker> _brokers = [];
    private readonly HashSet<int> _paused = [];
    private readonly string _root;

    private BrokerProcessCluster(EtcdCluster etcd, string root, string logDirectory)
    {
        Etcd = etcd;
        _root = root;
        LogDirectory = logDirectory;
    }

    public EtcdCluster Etcd { get; }

    /// <summary>Where each broker's output (every incarnation, appended) is kept after the run: broker-N.log.</summary>
    public string LogDirectory { get; }

    public string BootstrapServers => string.Join(",", _brokers.Values.Select(b => b.BootstrapServers));

    public static string BrokerHost(int id) => "broker-" + id.ToString(CultureInfo.InvariantCulture);

    /// <param name="prepareDataDirectory">Runs for each broker's (empty) data directory before the broker starts.</param>
    public static async Task<BrokerProcessCluster> StartAsync(
        IReadOnlyDictionary<string, string> settings, string logDirectory, NetworkNamespaces? network = null, Func<int, string, Task>? prepareDataDirectory = null)
    {
        Directory.CreateDirectory(logDirectory);
        var etcd = network is null ? await EtcdCluster.StartAsync(3) : await EtcdCluster.StartAsync(3, network.Address(EtcdHost), network.Launcher(EtcdHost));
        var cluster = new BrokerProcessCluster(etcd, Directory.CreateTempSubdirectory("tributary-chaos-").FullName, logDirectory);
        try
        {
            foreach (var id in BrokerIds.Where(_ => prepareDataDirectory is not null))
            {
                Directory.CreateDirectory(cluster.DataDirectory(id));
                await prepareDataDirectory!(id, cluster.DataDirectory(id));
            }

            // Started together: each waits for etcd, not for the others.
            var starts = BrokerIds.Select(id =>
            {
                var all = new Dictionary<string, string>(settings)
                {
                    ["node.id"] = id.ToString(CultureInfo.InvariantCulture),
                    ["tributary.metadata.etcd.endpoints"] = etcd.Endpoints,
                };
                return network is null
                    ? StandaloneBroker.StartAsync(cluster.DataDirectory(id), FreePort.Pick(), all, logFile: cluster.LogFile(id))
                    : StandaloneBroker.StartAsync(cluster.DataDirectory(id), NamespacedBrokerPort, all,
                        host: network.Address(BrokerHost(id)), launcher: network.Launcher(BrokerHost(id)), logFile: cluster.LogFile(id));
            }).ToList();
            foreach (var (id, start) in BrokerIds.Zip(starts))
            {
                cluster._brokers[id] = await start;
            }
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    public string DataDirectory(int id) => Path.Combine(_root, "broker-" + id.ToString(CultureInfo.InvariantCulture));

    public string LogFile(int id) => Path.Combine(LogDirectory, "broker-" + id.ToString(CultureInfo.InvariantCulture) + ".log");

    public StandaloneBroker Broker(int id) => _brokers[id];

    public bool IsPaused(int id) => _paused.Contains(id);

    public Task KillAsync(int id) => _brokers[id].KillAsync();

    public Task RestartAsync(int id) => _brokers[id].StartAsync();

    /// <summary>SIGSTOP: the process keeps its sockets and lease key but does nothing until <see cref="Resume"/>.</summary>
    public void Pause(int id)
    {
        Signals.Send(_brokers[id].ProcessId, Signals.Stop);
        _paused.Add(id);
    }

    public void Resume(int id)
    {
        Signals.Send(_brokers[id].ProcessId, Signals.Continue);
        _paused.Remove(id);
    }

    /// <summary>
    /// kill -9 and the data directory deleted; started again empty at once, inside its lease: it registers as a new
    /// incarnation, which the controller fences out of every ISR and leadership before it may follow (FAULTS.md).
    /// </summary>
    public async Task WipeAsync(int id)
    {
        await _brokers[id].KillAsync();
        Directory.Delete(DataDirectory(id), recursive: true);
        await _brokers[id].StartAsync();
    }

    /// <summary>Partition metadata as a live broker reports it (its cache of etcd), or null if none answered.</summary>
    public TopicMetadata? Describe(string topic)
    {
        foreach (var broker in _brokers.Where(b => !_paused.Contains(b.Key)).Select(b => b.Value))
        {
            try
            {
                using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = broker.BootstrapServers }).Build();
                var metadata = admin.GetMetadata(topic, MetadataTimeout).Topics.SingleOrDefault(t => t.Topic == topic);
                if (metadata is { Error.IsError: false })
                {
                    return metadata;
                }
            }
            catch (KafkaException)
            {
            }
        }

        return null;
    }

    /// <summary>Waits until every partition has a leader and all three brokers in its ISR; false when time runs out.</summary>
    public async Task<bool> WaitHealedAsync(string topic, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Describe(topic) is { } metadata && metadata.Partitions.Count > 0
                && metadata.Partitions.All(p => p.Leader > 0 && p.InSyncReplicas.Length == BrokerIds.Length))
            {
                return true;
            }

            await Task.Delay(250);
        }

        return false;
    }

    /// <summary>SIGTERM to every broker (a clean stop that flushes logs), so their data directories can be compared.</summary>
    public async Task StopBrokersAsync()
    {
        foreach (var broker in _brokers.Values)
        {
            await broker.StopAsync(TimeSpan.FromSeconds(30));
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var id in _paused.ToList())
        {
            Resume(id);
        }

        foreach (var broker in _brokers.Values)
        {
            await broker.DisposeAsync();
        }

        await Etcd.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
