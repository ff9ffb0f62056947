using System.Text.Json;
using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// librdkafka (Debian's kcat) against a SASL_PLAINTEXT listener: it authenticates with PLAIN, SCRAM-SHA-256 and
/// SCRAM-SHA-512, produces and consumes; a wrong password fails with the broker's authentication error.
/// </summary>
public sealed class KcatSaslTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("tributary-kcat-sasl-").FullName;

    [Theory]
    [InlineData("PLAIN")]
    [InlineData("SCRAM-SHA-256")]
    [InlineData("SCRAM-SHA-512")]
    public async Task KcatAuthenticatesProducesAndConsumes(string mechanism)
    {
        await using var broker = await StartAsync();
        var input = Path.Combine(_work, "in.txt");
        await File.WriteAllLinesAsync(input, Enumerable.Range(0, 20).Select(i => $"k{i}\t{mechanism}-{i}"));

        await KcatRunner.ProduceLinesAsync(broker.BootstrapServers, "secured", input, [.. Sasl(mechanism, "alice", "al1ce-secret"), "-X", "acks=all"]);

        var output = Path.Combine(_work, "out.json");
        var consumed = await KcatRunner.RunAsync(
            ["-C", "-b", broker.BootstrapServers, "-t", "secured", "-o", "beginning", "-e", "-J", "-q", .. Sasl(mechanism, "alice", "al1ce-secret")], output);
        Assert.True(consumed.ExitCode == 0, "kcat -C failed: " + consumed.Describe());
        var payloads = File.ReadLines(output).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<KcatMessage>(l)!.Payload);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"{mechanism}-{i}").Order(StringComparer.Ordinal), payloads.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("PLAIN")]
    [InlineData("SCRAM-SHA-256")]
    [InlineData("SCRAM-SHA-512")]
    public async Task AWrongPasswordFailsWithTheAuthenticationError(string mechanism)
    {
        await using var broker = await StartAsync();

        var result = await KcatRunner.RunAsync(["-L", "-b", broker.BootstrapServers, "-m", "5", .. Sasl(mechanism, "alice", "wrong")]);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Authentication failed", result.StandardError, StringComparison.Ordinal);
    }

    private static async Task<TributaryBroker> StartAsync()
    {
        var options = new TributaryBrokerOptions();
        options.SaslUsers["alice"] = "al1ce-secret";
        options.Topics["secured"] = 2;
        return await TributaryBroker.StartAsync(options);
    }

    private static string[] Sasl(string mechanism, string user, string password) =>
        ["-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=" + mechanism, "-X", "sasl.username=" + user, "-X", "sasl.password=" + password];

    public void Dispose() => Directory.Delete(_work, recursive: true);
}
