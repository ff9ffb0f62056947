using System.Globalization;

namespace Tributary.Interop.Tests.Support;

/// <summary>
/// The <c>tributary</c> executable as a separate process on a fixed loopback port and data directory, so a test
/// can SIGKILL it (by its own process id) and start it again on the same storage. A network fault test puts it on
/// another address and starts it through a launcher (<c>ip netns exec NS</c>, which executes the broker in place).
/// </summary>
public sealed class StandaloneBroker : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private const int StartAttemptsMax = 5;

    private readonly IReadOnlyDictionary<string, string> _settings;
    private readonly int? _openFilesLimit;
    private readonly IReadOnlyList<string> _launcher;
    private ChildProcess? _process;

    private StandaloneBroker(string dataDirectory, string host, int port, IReadOnlyDictionary<string, string> settings, int? openFilesLimit, IReadOnlyList<string> launcher)
    {
        DataDirectory = dataDirectory;
        Host = host;
        Port = port;
        _settings = settings;
        _openFilesLimit = openFilesLimit;
        _launcher = launcher;
    }

    public string DataDirectory { get; }

    public string Host { get; }

    public int Port { get; }

    public string BootstrapServers => Host + ":" + Port.ToString(CultureInfo.InvariantCulture);

    public int ProcessId => _process?.Id ?? throw new InvalidOperationException("not running");

    /// <summary>True while the broker process runs (false once it exited, crashed or was killed).</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>What the running (or last) broker process wrote to standard output: its log.</summary>
    public string Log => _process?.StandardOutput ?? "";

    /// <summary>When set, every process started from now on appends its standard output and error to this file.</summary>
    public string? LogFile { get; set; }

    /// <param name="openFilesLimit">
    /// When set, the broker runs under <c>prlimit --nofile=N:N</c> (util-linux): it may hold at most N descriptors.
    /// </param>
    /// <param name="launcher">A command the broker's command line is appended to, which must execute it in place.</param>
    /// <param name="logFile">When set, the file <see cref="LogFile"/> names.</param>
    public static async Task<StandaloneBroker> StartAsync(
        string dataDirectory,
        int port,
        IReadOnlyDictionary<string, string>? settings = null,
        int? openFilesLimit = null,
        string host = "127.0.0.1",
        IReadOnlyList<string>? launcher = null,
        string? logFile = null)
    {
        var broker = new StandaloneBroker(dataDirectory, host, port, settings ?? new Dictionary<string, string>(), openFilesLimit, launcher ?? []) { LogFile = logFile };
        await broker.StartAsync().ConfigureAwait(false);
        return broker;
    }

    /// <summary>Starts the process and waits for "Tributary listening on"; retries a few times if the port is still held.</summary>
    public async Task StartAsync()
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException("already running");
        }

        var listening = "Tributary listening on " + BootstrapServers;
        for (var attempt = 1; ; attempt++)
        {
            if (_process is not null)
            {
                await _process.DisposeAsync().ConfigureAwait(false);
            }

            // prlimit sets the limit and then executes the broker in its own process, so the id stays the broker's.
            List<string> command = _openFilesLimit is { } limit
                ? [.. _launcher, "prlimit", $"--nofile={limit}:{limit}", DotnetHost, .. Arguments()]
                : [.. _launcher, DotnetHost, .. Arguments()];
            _process = ChildProcess.Start(command[0], command.Skip(1), teeFile: LogFile);
            try
            {
                await _process.WaitForLineAsync(l => l.Contains(listening, StringComparison.Ordinal), StartTimeout).ConfigureAwait(false);
                return;
            }
            catch (InvalidOperationException) when (attempt < StartAttemptsMax)
            {
                // The process ended before listening: after a SIGKILL the port can take a moment to be free again.
                await Task.Delay(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            }
        }
    }

    /// <summary>kill -9: no shutdown code runs, whatever the broker had not written is gone.</summary>
    public async Task KillAsync()
    {
        if (_process is not null)
        {
            await _process.KillAsync().ConfigureAwait(false);
        }
    }

    /// <summary>A clean stop (SIGTERM, as an operator's): the broker flushes its logs and writes its clean-shutdown marker.</summary>
    public async Task<ProcessResult> StopAsync(TimeSpan timeout) =>
        _process is not null ? await _process.TerminateAsync(timeout).ConfigureAwait(false) : throw new InvalidOperationException("not running");

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync().ConfigureAwait(false);
        }
    }

    public static string DotnetHost => System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    private List<string> Arguments()
    {
        // The CLI keeps Kafka's 3 s group.initial.rebalance.delay.ms; tests start from 0, as the embedded broker and
        // Kafka's development server.properties do, unless a test sets it. The admin listener goes on a free port so
        // brokers of parallel tests do not fight over the default 9644.
        var settings = new Dictionary<string, string>(_settings, StringComparer.Ordinal);
        settings.TryAdd("group.initial.rebalance.delay.ms", "0");
        settings.TryAdd("tributary.admin.listeners", "http://127.0.0.1:0");
        var arguments = new List<string>
        {
            RepositoryPaths.TributaryDll,
            "serve",
            "--set", "log.dirs=" + DataDirectory,
            "--set", "listeners=PLAINTEXT://" + BootstrapServers,
        };
        foreach (var (key, value) in settings)
        {
            arguments.Add("--set");
            arguments.Add(key + "=" + value);
        }

        return arguments;
    }
}
