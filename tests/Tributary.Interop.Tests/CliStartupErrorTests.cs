using System.Globalization;
using Tributary.Interop.Tests.Support;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;

namespace Tributary.Interop.Tests;

/// <summary>
/// The <c>tributary</c> executable refused a start it cannot make: a data directory another broker has open, a port
/// another broker listens on, an etcd truststore it cannot read. Each ends with one log line naming the cause and exit
/// code 1, not an unhandled exception, and the running broker keeps serving.
/// </summary>
public sealed class CliStartupErrorTests : IDisposable
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("tributary-interop-cli-");

    [Fact]
    public async Task A_locked_data_directory_or_a_taken_port_ends_the_cli_with_one_line_and_exit_code_1()
    {
        var ownedDirectory = Path.Combine(_work.FullName, "owned");
        await using var running = await StandaloneBroker.StartAsync(ownedDirectory, FreePort.Pick());

        var sameDirectory = await RunServeAsync(ownedDirectory, FreePort.Pick());
        Assert.Equal(1, sameDirectory.ExitCode);
        Assert.Contains($"data directory {ownedDirectory} is in use by another process", sameDirectory.StandardOutput, StringComparison.Ordinal);
        AssertNoCrash(sameDirectory);

        var samePort = await RunServeAsync(Path.Combine(_work.FullName, "other"), running.Port);
        Assert.Equal(1, samePort.ExitCode);
        Assert.Contains($"cannot listen on 127.0.0.1:{running.Port.ToString(CultureInfo.InvariantCulture)}: the address is already in use", samePort.StandardOutput, StringComparison.Ordinal);
        AssertNoCrash(samePort);

        // The first broker noticed nothing.
        await using var client = await KafkaWireClient.ConnectAsync(running.BootstrapServers);
        var metadata = await client.SendAsync<MetadataRequest, MetadataResponse>(ApiKey.Metadata, 12, new MetadataRequest { Topics = null });
        Assert.Single(metadata.Brokers);
        Assert.Equal(running.Port, metadata.Brokers[0].Port);
    }

    [Fact]
    public async Task An_unreadable_etcd_truststore_ends_the_cli_with_one_line_naming_the_key()
    {
        var missing = Path.Combine(_work.FullName, "missing-ca.pem");
        var result = await RunServeAsync(Path.Combine(_work.FullName, "cluster"), FreePort.Pick(),
            "tributary.metadata.etcd.endpoints=https://127.0.0.1:" + FreePort.Pick().ToString(CultureInfo.InvariantCulture),
            "tributary.metadata.etcd.ssl.truststore.location=" + missing);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"Not started: tributary.metadata.etcd.ssl.truststore.location: cannot read PEM certificates from {missing}", result.StandardOutput, StringComparison.Ordinal);
        AssertNoCrash(result);
    }

    private static async Task<ProcessResult> RunServeAsync(string dataDirectory, int port, params string[] settings)
    {
        await using var process = ChildProcess.Start(StandaloneBroker.DotnetHost,
        [
            RepositoryPaths.TributaryDll,
            "serve",
            "--set", "log.dirs=" + dataDirectory,
            "--set", "listeners=PLAINTEXT://127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture),
            "--set", "tributary.admin.listeners=http://127.0.0.1:0",
            .. settings.SelectMany(s => new[] { "--set", s }),
        ]);
        return await process.WaitForExitAsync(ExitTimeout);
    }

    private static void AssertNoCrash(ProcessResult result)
    {
        Assert.DoesNotContain("Unhandled exception", result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.StandardOutput + result.StandardError, StringComparison.Ordinal);
        Assert.Contains("Not started: ", result.StandardOutput, StringComparison.Ordinal);
    }

    public void Dispose() => _work.Delete(recursive: true);
}
