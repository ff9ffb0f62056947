using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Tributary.Server;

/// <summary>
/// The etcd of a <see cref="TributaryCluster"/>: 1 or 3 member processes of Debian's etcd (TRIBUTARY_ETCD, else
/// /usr/bin/etcd) on free loopback ports, data under one directory, stopped by their process ids.
/// </summary>
internal sealed class EtcdProcesses : IAsyncDisposable
{
    private static readonly TimeSpan HealthyWithin = TimeSpan.FromSeconds(30);

    private readonly List<Process> _processes = [];

    private EtcdProcesses(IReadOnlyList<IPEndPoint> clientEndpoints) => ClientEndpoints = clientEndpoints;

    public IReadOnlyList<IPEndPoint> ClientEndpoints { get; }

    public string Endpoints => string.Join(",", ClientEndpoints.Select(e => "http://" + e));

    public static async Task<EtcdProcesses> StartAsync(string directory, int members, CancellationToken cancellationToken)
    {
        var path = Environment.GetEnvironmentVariable("TRIBUTARY_ETCD") is { Length: > 0 } configured ? configured : "/usr/bin/etcd";
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"etcd was not found at {path}: install Debian's etcd-server package or set TRIBUTARY_ETCD to an etcd binary");
        }

        var clients = Enumerable.Range(0, members).Select(_ => FreePort()).ToArray();
        var peers = Enumerable.Range(0, members).Select(_ => FreePort()).ToArray();
        var initial = string.Join(",", Enumerable.Range(0, members).Select(i => $"e{i}=http://127.0.0.1:{peers[i]}"));
        var etcd = new EtcdProcesses([.. clients.Select(p => new IPEndPoint(IPAddress.Loopback, p))]);
        try
        {
            for (var i = 0; i < members; i++)
            {
                var client = "http://127.0.0.1:" + clients[i].ToString(CultureInfo.InvariantCulture);
                var peer = "http://127.0.0.1:" + peers[i].ToString(CultureInfo.InvariantCulture);
                etcd._processes.Add(Spawn(path,
                    "--name", $"e{i}", "--data-dir", Path.Combine(directory, $"e{i}"),
                    "--listen-client-urls", client, "--advertise-client-urls", client,
                    "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                    "--initial-cluster", initial, "--initial-cluster-state", "new", "--initial-cluster-token", Path.GetFileName(directory),
                    "--heartbeat-interval", "50", "--election-timeout", "500", "--log-level", "error"));
            }

            await etcd.WaitHealthyAsync(cancellationToken).ConfigureAwait(false);
            return etcd;
        }
        catch
        {
            await etcd.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static Process Spawn(string path, params string[] arguments)
    {
        var info = new ProcessStartInfo(path) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("etcd did not start");

        // Read and dropped, so a member never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task WaitHealthyAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + HealthyWithin;
        for (var i = 0; i < ClientEndpoints.Count; i++)
        {
            while (!await HealthyAsync(http, ClientEndpoints[i], cancellationToken).ConfigureAwait(false))
            {
                if (DateTime.UtcNow > deadline || _processes[i].HasExited)
                {
                    throw new InvalidOperationException($"etcd member e{i} at {ClientEndpoints[i]} did not become healthy");
                }

                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task<bool> HealthyAsync(HttpClient http, IPEndPoint endpoint, CancellationToken cancellationToken)
    {
        try
        {
            var body = await http.GetStringAsync(new Uri($"http://{endpoint}/health"), cancellationToken).ConfigureAwait(false);
            return body.Contains("\"health\":\"true\"", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync().ConfigureAwait(false);
            }

            process.Dispose();
        }
    }
}
