using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Tributary.Broker.Config;
using Tributary.Interop.Tests.Support;

namespace Tributary.Interop.Tests;

/// <summary>
/// The admin listener of <c>tributary serve</c> (the built executable): it answers /health/live and /health/ready, and
/// a second broker asking for the same admin port ends with one line naming tributary.admin.listeners.
/// </summary>
public sealed partial class AdminListenerCliTests : IDisposable
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("tributary-interop-admin-");

    [Fact]
    public async Task Serve_answers_health_on_its_admin_listener_and_a_second_broker_on_that_port_fails_naming_the_key()
    {
        // serve's default is loopback port 9644; tests pick a free port so parallel runs never collide.
        Assert.Equal([new Uri("http://127.0.0.1:9644")], new BrokerConfig().AdminListeners);
        await using var running = await StandaloneBroker.StartAsync(Path.Combine(_work.FullName, "first"), FreePort.Pick(),
            new Dictionary<string, string> { ["tributary.admin.listeners"] = "http://127.0.0.1:0" });
        var admin = new Uri(AdminAddress().Match(running.Log).Groups[1].Value);
        using var http = new HttpClient { BaseAddress = admin };

        using var live = await http.GetAsync(new Uri("/health/live", UriKind.Relative));
        using var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);

        await using var second = ChildProcess.Start(StandaloneBroker.DotnetHost,
        [
            RepositoryPaths.TributaryDll,
            "serve",
            "--set", "log.dirs=" + Path.Combine(_work.FullName, "second"),
            "--set", "listeners=PLAINTEXT://127.0.0.1:" + FreePort.Pick().ToString(CultureInfo.InvariantCulture),
            "--set", "tributary.admin.listeners=http://127.0.0.1:" + admin.Port.ToString(CultureInfo.InvariantCulture),
        ]);
        var failed = await second.WaitForExitAsync(ExitTimeout);
        Assert.Equal(1, failed.ExitCode);
        Assert.Contains($"tributary.admin.listeners: cannot listen on http://127.0.0.1:{admin.Port.ToString(CultureInfo.InvariantCulture)}", failed.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", failed.StandardOutput + failed.StandardError, StringComparison.Ordinal);

        // The first broker's admin listener noticed nothing.
        Assert.Equal("live\n", await http.GetStringAsync(new Uri("/health/live", UriKind.Relative)));
    }

    [GeneratedRegex(@"Admin listener \(metrics, health\) on (http://[0-9.]+:[0-9]+)")]
    private static partial Regex AdminAddress();

    public void Dispose() => _work.Delete(recursive: true);
}
