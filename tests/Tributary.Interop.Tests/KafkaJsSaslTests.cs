using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// kafkajs against a SASL_PLAINTEXT listener: PLAIN and SCRAM-SHA-256 log in, produce and consume in a group; a wrong
/// password is refused with SASL_AUTHENTICATION_FAILED.
/// </summary>
public sealed class KafkaJsSaslTests
{
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(90);

    [Theory]
    [InlineData("plain")]
    [InlineData("scram-sha-256")]
    public async Task KafkaJsAuthenticatesProducesAndConsumes(string mechanism)
    {
        await using var broker = await StartAsync();

        var run = await NodeRunner.RunAsync("sasl.mjs", NodeTimeout, broker.BootstrapServers, mechanism, "alice", "al1ce-secret", "secured");

        using var json = NodeRunner.LastJsonLine(run);
        Assert.True(run.ExitCode == 0 && !json.RootElement.TryGetProperty("error", out _), "kafkajs failed: " + run.Describe());
        Assert.Equal([$"{mechanism}-1", $"{mechanism}-2", $"{mechanism}-3"], json.RootElement.GetProperty("values").EnumerateArray().Select(v => v.GetString()));
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("scram-sha-256")]
    public async Task AWrongPasswordIsRefused(string mechanism)
    {
        await using var broker = await StartAsync();

        var run = await NodeRunner.RunAsync("sasl.mjs", NodeTimeout, broker.BootstrapServers, mechanism, "alice", "wrong", "secured");

        using var json = NodeRunner.LastJsonLine(run);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("SASL", json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains("Authentication failed", json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    private static async Task<TributaryBroker> StartAsync()
    {
        var options = new TributaryBrokerOptions();
        options.SaslUsers["alice"] = "al1ce-secret";
        options.Topics["secured"] = 1;
        return await TributaryBroker.StartAsync(options);
    }
}
