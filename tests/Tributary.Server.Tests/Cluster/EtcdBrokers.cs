using System.Globalization;
using Tributary.Tests.Shared.Cluster;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// The embedded brokers of one test on the class's etcd, by node id: each test has its own key prefix (its own
/// cluster) and data directories, removed at the end. Stopped brokers can start again on their data;
/// <paramref name="configureAll"/> may change every broker's options (by node id) after the defaults are set.
/// </summary>
internal sealed class EtcdBrokers(EtcdCluster etcd, string name, Action<int, TributaryBrokerOptions>? configureAll = null) : IAsyncDisposable
{
    private readonly string _prefix = "/" + name + "-" + Guid.NewGuid().ToString("N");
    private readonly string _root = Directory.CreateTempSubdirectory("tributary-" + name + "-").FullName;

    public Dictionary<int, TributaryBroker> Running { get; } = [];

    public TributaryBroker this[int nodeId] => Running[nodeId];

    public string Bootstrap => string.Join(',', Running.Values.Select(b => b.BootstrapServers));

    /// <summary>Starts brokers 1 to <paramref name="count"/> and waits until each sees all of them live.</summary>
    public async Task StartAllAsync(int count, Action<int, TributaryBrokerOptions>? configure = null)
    {
        for (var id = 1; id <= count; id++)
        {
            await StartAsync(id, configure);
        }

        await ReplicationTests.WaitUntilAsync(() => Running.Values.All(b => b.Core.Cluster!.LiveBrokers.Count == count));
    }

    /// <param name="configure">changes a broker's options (by node id) before it starts.</param>
    public async Task StartAsync(int nodeId, Action<int, TributaryBrokerOptions>? configure = null)
    {
        var options = new TributaryBrokerOptions { InMemory = false, DataDirectory = Path.Combine(_root, nodeId.ToString(CultureInfo.InvariantCulture)) };
        options.Config["node.id"] = nodeId.ToString(CultureInfo.InvariantCulture);
        options.Config["tributary.metadata.etcd.endpoints"] = etcd.Endpoints;
        options.Config["tributary.metadata.etcd.prefix"] = _prefix;
        options.Config["tributary.metadata.etcd.lease.ms"] = "2000";
        configureAll?.Invoke(nodeId, options);
        configure?.Invoke(nodeId, options);
        Running[nodeId] = await TributaryBroker.StartAsync(options);
    }

    public async Task StopAsync(int nodeId)
    {
        await Running[nodeId].StopAsync();
        await Running[nodeId].DisposeAsync();
        Running.Remove(nodeId);
    }

    /// <summary>Stops a broker as a killed process: no controlled shutdown, its lease left alone, its listener closed.</summary>
    public async Task KillAsync(int nodeId)
    {
        await Running[nodeId].KillAsync();
        await Running[nodeId].DisposeAsync();
        Running.Remove(nodeId);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var broker in Running.Values)
        {
            await broker.DisposeAsync();
        }

        Running.Clear();
        Directory.Delete(_root, recursive: true);
    }
}
