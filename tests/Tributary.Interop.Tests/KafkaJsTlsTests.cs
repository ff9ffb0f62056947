using System.Security.Cryptography.X509Certificates;
using Tributary.Interop.Tests.Support;
using Tributary.Server;
using Tributary.Tests.Shared.Tls;

namespace Tributary.Interop.Tests;

/// <summary>
/// kafkajs (Node's TLS) against SSL and SASL_SSL listeners with a certificate made at test time: without SASL, and with
/// PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 over TLS, it produces and consumes in a group.
/// </summary>
public sealed class KafkaJsTlsTests : IDisposable
{
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(90);
    private static readonly X509Certificate2 Authority = TestCertificates.Authority("Tributary kafkajs CA");
    private readonly string _work = Directory.CreateTempSubdirectory("tributary-kafkajs-tls-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Theory]
    [InlineData("none")]
    [InlineData("plain")]
    [InlineData("scram-sha-256")]
    [InlineData("scram-sha-512")]
    public async Task KafkaJsProducesAndConsumesOverTls(string mechanism)
    {
        var options = new TributaryBrokerOptions { TlsCertificate = TestCertificates.Server(Authority) };
        options.Topics["secured"] = 1;
        if (mechanism != "none")
        {
            options.SaslUsers["alice"] = "al1ce-secret";
        }

        await using var broker = await TributaryBroker.StartAsync(options);
        var authority = Path.Combine(_work, "ca.pem");
        await File.WriteAllTextAsync(authority, TestCertificates.CertificatePem(Authority));

        var run = await NodeRunner.RunAsync("sasl.mjs", NodeTimeout, broker.BootstrapServers, mechanism, "alice", "al1ce-secret", "secured", authority);

        using var json = NodeRunner.LastJsonLine(run);
        Assert.True(run.ExitCode == 0 && !json.RootElement.TryGetProperty("error", out _), "kafkajs failed: " + run.Describe());
        Assert.Equal([$"{mechanism}-1", $"{mechanism}-2", $"{mechanism}-3"], json.RootElement.GetProperty("values").EnumerateArray().Select(v => v.GetString()));
    }
}
