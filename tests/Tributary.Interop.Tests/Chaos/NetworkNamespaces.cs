using System.Globalization;
using System.Text.RegularExpressions;
using Tributary.Interop.Tests.Support;

namespace Tributary.Interop.Tests.Chaos;

/// <summary>
/// Hosts of their own for a cluster's processes, so a fault can cut one process's links: on loopback every source
/// address is 127.0.0.1 and a broker's connections cannot be told from another's. Each named host is a network
/// namespace with a veth pair to a bridge in the root namespace, on a private /24 chosen per run; the test process
/// reaches every host through the bridge as a client and listens on none of these addresses. Links are cut by
/// blackhole routes inside the namespaces (no firewall). Needs root and iproute2's <c>ip</c>. Everything created
/// is removed on dispose, and what a crashed earlier run left (its creator's process gone) on create.
/// </summary>
public sealed partial class NetworkNamespaces : IAsyncDisposable
{
    /// <summary>The test process, as the hosts see it (the bridge's address); a host can be cut from it.</summary>
    public const string Client = "client";

    private const string Prefix = "trnf";
    private const int FirstHostByte = 10;
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);

    private readonly string _bridge;
    private readonly string _network;
    private readonly Dictionary<string, int> _hosts = [];
    private readonly HashSet<(string From, string To)> _blackholes = [];

    private NetworkNamespaces(string network)
    {
        _bridge = Prefix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        _network = network;
    }

    /// <summary>Creates one namespace per name, each with an address on a fresh /24 and a route to the others.</summary>
    public static async Task<NetworkNamespaces> CreateAsync(IEnumerable<string> names)
    {
        await RemoveStaleAsync();
        var network = new NetworkNamespaces(await PickUnusedNetworkAsync());
        try
        {
            await IpAsync("link", "add", network._bridge, "type", "bridge");
            await IpAsync("addr", "add", network.Address(Client) + "/24", "dev", network._bridge);
            await IpAsync("link", "set", network._bridge, "up");
            foreach (var name in names)
            {
                await network.AddHostAsync(name);
            }
        }
        catch
        {
            await network.DisposeAsync();
            throw;
        }

        return network;
    }

    /// <summary>A host's address (for the client: the bridge's).</summary>
    public string Address(string name) =>
        _network + (name == Client ? 1 : FirstHostByte + _hosts[name]).ToString(CultureInfo.InvariantCulture);

    /// <summary>The command prefix that runs a program inside a host: <c>ip netns exec</c> executes it in place.</summary>
    public IReadOnlyList<string> Launcher(string name) => ["ip", "netns", "exec", Namespace(name)];

    /// <summary>Cuts the link between two hosts both ways; a cut from <see cref="Client"/> is routed in the host only.</summary>
    public async Task CutAsync(string host, string other)
    {
        await BlackholeAsync(host, other);
        if (other != Client)
        {
            await BlackholeAsync(other, host);
        }
    }

    /// <summary>Removes every cut.</summary>
    public async Task HealAsync()
    {
        foreach (var (from, to) in _blackholes.ToList())
        {
            await IpAsync("-n", Namespace(from), "route", "del", "blackhole", Address(to) + "/32");
            _blackholes.Remove((from, to));
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Deleting a namespace deletes its end of the veth pair, and with it the bridge's end.
        foreach (var name in _hosts.Keys)
        {
            await RunIpAsync("netns", "del", Namespace(name));
        }

        await RunIpAsync("link", "del", _bridge);
    }

    private async Task AddHostAsync(string name)
    {
        var index = _hosts.Count;
        _hosts[name] = index;
        var ns = Namespace(name);
        var veth = _bridge + "v" + index.ToString(CultureInfo.InvariantCulture);
        await IpAsync("netns", "add", ns);
        await IpAsync("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns);
        await IpAsync("link", "set", veth, "master", _bridge, "up");
        await IpAsync("-n", ns, "addr", "add", Address(name) + "/24", "dev", "eth0");
        await IpAsync("-n", ns, "link", "set", "eth0", "up");
        await IpAsync("-n", ns, "link", "set", "lo", "up");
    }

    private async Task BlackholeAsync(string from, string to)
    {
        if (_blackholes.Add((from, to)))
        {
            await IpAsync("-n", Namespace(from), "route", "add", "blackhole", Address(to) + "/32");
        }
    }

    private string Namespace(string name) => $"{_bridge}-{name}";

    // 10.X.Y.0/24 with X and Y drawn at random until neither an address nor a route of the root namespace is in it.
    private static async Task<string> PickUnusedNetworkAsync()
    {
        var used = (await RunIpAsync("-o", "addr", "show")).StandardOutput + (await RunIpAsync("route", "show", "table", "all")).StandardOutput;
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var network = string.Create(CultureInfo.InvariantCulture, $"10.{Random.Shared.Next(64, 250)}.{Random.Shared.Next(1, 255)}.");
            if (!used.Contains(" " + network, StringComparison.Ordinal) && !used.Contains("\n" + network, StringComparison.Ordinal) && !used.StartsWith(network, StringComparison.Ordinal))
            {
                return network;
            }
        }

        throw new InvalidOperationException("no unused 10.X.Y.0/24 found");
    }

    // Namespaces and bridges named after a creator process that no longer runs.
    private static async Task RemoveStaleAsync()
    {
        var namespaces = (await RunIpAsync("netns", "list")).StandardOutput;
        foreach (Match match in StaleNamespace().Matches(namespaces))
        {
            if (!IsRunning(match.Groups["pid"].Value))
            {
                await RunIpAsync("netns", "del", match.Groups["name"].Value);
            }
        }

        var bridges = (await RunIpAsync("-o", "link", "show", "type", "bridge")).StandardOutput;
        foreach (Match match in StaleBridge().Matches(bridges))
        {
            if (!IsRunning(match.Groups["pid"].Value))
            {
                await RunIpAsync("link", "del", match.Groups["name"].Value);
            }
        }
    }

    private static bool IsRunning(string processId) => Directory.Exists("/proc/" + processId);

    [GeneratedRegex(@"^(?<name>" + Prefix + @"(?<pid>\d+)-\S+)", RegexOptions.Multiline)]
    private static partial Regex StaleNamespace();

    [GeneratedRegex(@"^\d+: (?<name>" + Prefix + @"(?<pid>\d+)):", RegexOptions.Multiline)]
    private static partial Regex StaleBridge();

    private static async Task IpAsync(params string[] arguments)
    {
        var result = await RunIpAsync(arguments);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', arguments)}: {result.Describe()}");
        }
    }

    private static Task<ProcessResult> RunIpAsync(params string[] arguments) => ProcessRunner.RunAsync("ip", arguments, CommandTimeout);
}
