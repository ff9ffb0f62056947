using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace Tributary.Tests.Shared.Cluster;

/// <summary>
/// Debian's etcd (/usr/bin/etcd, package etcd-server) as a cluster of members on free loopback ports, data in a
/// temporary directory, each member stopped by its process id. Tests of cluster mode share one and keep apart by
/// key prefix (tributary.metadata.etcd.prefix). A network fault test places the members on another address, started
/// through a launcher (<c>ip netns exec NS</c>, which executes etcd in place: the process id stays the member's).
/// </summary>
public sealed class EtcdCluster : IAsyncDisposable
{
    public const string EtcdPath = "/usr/bin/etcd";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    private readonly string _directory;
    private readonly List<Member> _members;
    private readonly IReadOnlyList<string> _launcher;
    private readonly EtcdTls? _tls;

    private EtcdCluster(string directory, List<Member> members, IReadOnlyList<string> launcher, EtcdTls? tls)
    {
        _directory = directory;
        _members = members;
        _launcher = launcher;
        _tls = tls;
    }

    /// <summary>The client URLs, comma-separated, as tributary.metadata.etcd.endpoints takes them.</summary>
    public string Endpoints => string.Join(",", _members.Select(m => m.ClientUrl));

    /// <param name="tls">serves clients over TLS (https:// endpoints) with this certificate, and asks for client certificates when it says so.</param>
    public static async Task<EtcdCluster> StartAsync(int members = 3, string host = "127.0.0.1", IReadOnlyList<string>? launcher = null, EtcdTls? tls = null)
    {
        if (!File.Exists(EtcdPath))
        {
            throw new InvalidOperationException($"{EtcdPath} is missing: install Debian's etcd-server (test.sh does)");
        }

        var directory = Directory.CreateTempSubdirectory("tributary-etcd-").FullName;
        var scheme = tls is null ? "http" : "https";
        var list = Enumerable.Range(0, members).Select(i => new Member($"m{i}", host, FreePort(), FreePort(), scheme)).ToList();
        var cluster = new EtcdCluster(directory, list, launcher ?? [], tls);
        var initial = string.Join(",", list.Select(m => $"{m.Name}={m.PeerUrl}"));
        foreach (var member in list)
        {
            cluster.Start(member, initial, "new");
        }

        await cluster.WaitHealthyAsync(list).ConfigureAwait(false);
        return cluster;
    }

    public int MemberCount => _members.Count;

    /// <summary>SIGKILL of one member (by its process id); its data directory stays for <see cref="RestartMemberAsync"/>.</summary>
    public async Task KillMemberAsync(int index)
    {
        var process = _members[index].Process!;
        if (!process.HasExited)
        {
            process.Kill();
            await process.WaitForExitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Starts a killed member again on its data directory and waits until it is healthy (which needs a quorum).</summary>
    public async Task RestartMemberAsync(int index)
    {
        var member = _members[index];
        member.Process?.Dispose();
        Start(member, string.Join(",", _members.Select(m => $"{m.Name}={m.PeerUrl}")), "existing");
        await WaitHealthyAsync([member]).ConfigureAwait(false);
    }

    /// <summary>SIGSTOP of one member: it holds its ports but answers nothing, like a frozen machine.</summary>
    public void PauseMember(int index) => Signals.Send(_members[index].Process!.Id, Signals.Stop);

    public void ResumeMember(int index) => Signals.Send(_members[index].Process!.Id, Signals.Continue);

    /// <summary>Waits until every member reports itself healthy (it is part of a cluster with a leader).</summary>
    public Task WaitHealthyAsync() => WaitHealthyAsync(_members);

    private void Start(Member member, string initialCluster, string state)
    {
        List<string> command =
        [
            .. _launcher, EtcdPath,
            "--name", member.Name, "--data-dir", Path.Combine(_directory, member.Name),
            "--listen-client-urls", member.ClientUrl, "--advertise-client-urls", member.ClientUrl,
            "--listen-peer-urls", member.PeerUrl, "--initial-advertise-peer-urls", member.PeerUrl,
            "--initial-cluster", initialCluster, "--initial-cluster-state", state, "--initial-cluster-token", Path.GetFileName(_directory),
            "--heartbeat-interval", "50", "--election-timeout", "500", "--logger", "zap", "--log-level", "error",
        ];
        if (_tls is not null)
        {
            command.AddRange(["--cert-file", _tls.CertificateFile, "--key-file", _tls.KeyFile]);
            if (_tls.ClientCertificateAuthority is not null)
            {
                command.AddRange(["--client-cert-auth", "--trusted-ca-file", _tls.ClientCertificateAuthority]);
            }
        }

        var info = new ProcessStartInfo(command[0])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in command.Skip(1))
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("etcd did not start");

        // Drained so a chatty member never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        member.Process = process;
    }

    private async Task WaitHealthyAsync(IEnumerable<Member> members)
    {
        using var http = new HttpClient(HealthHandler()) { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + ReadyTimeout;
        foreach (var member in members)
        {
            while (true)
            {
                try
                {
                    var body = await http.GetStringAsync(member.ClientUrl + "/health").ConfigureAwait(false);
                    if (body.Contains("\"health\":\"true\"", StringComparison.Ordinal))
                    {
                        break;
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                }

                if (DateTime.UtcNow > deadline || member.Process!.HasExited)
                {
                    throw new InvalidOperationException($"etcd member {member.Name} did not become healthy at {member.ClientUrl}");
                }

                await Task.Delay(100).ConfigureAwait(false);
            }
        }
    }

    // Over TLS the health check trusts the test's authority and shows its client certificate.
    private SocketsHttpHandler HealthHandler()
    {
        var handler = new SocketsHttpHandler();
        if (_tls is not null)
        {
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.Add(_tls.Authority);
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = policy,
                ClientCertificates = _tls.HealthClientCertificate is { } client ? [client] : null,
            };
        }

        return handler;
    }

    /// <summary>A loopback port nothing listens on now (bound, then released).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var member in _members)
        {
            if (member.Process is { HasExited: false } process)
            {
                process.Kill();
                await process.WaitForExitAsync().ConfigureAwait(false);
            }

            member.Process?.Dispose();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed class Member(string name, string host, int clientPort, int peerPort, string scheme)
    {
        public string Name { get; } = name;

        public string ClientUrl { get; } = $"{scheme}://{host}:" + clientPort.ToString(CultureInfo.InvariantCulture);

        public string PeerUrl { get; } = $"http://{host}:" + peerPort.ToString(CultureInfo.InvariantCulture);

        public Process? Process { get; set; }
    }
}

