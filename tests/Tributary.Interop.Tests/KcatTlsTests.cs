using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Tributary.Broker.Dispatch;
using Tributary.Interop.Tests.Support;
using Tributary.Protocol;
using Tributary.Server;
using Tributary.Tests.Shared.Tls;

namespace Tributary.Interop.Tests;

/// <summary>
/// librdkafka (Debian's kcat, built with OpenSSL) against TLS listeners, certificates made at test time: SSL, mTLS with
/// the principal from its certificate, and SASL_SSL with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, each producing and
/// consuming; a client that does not trust the broker's authority, or lacks a certificate under mTLS, is refused.
/// </summary>
public sealed class KcatTlsTests : IDisposable
{
    private static readonly X509Certificate2 Authority = TestCertificates.Authority("Tributary Interop CA");
    private readonly string _work = Directory.CreateTempSubdirectory("tributary-kcat-tls-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task KcatProducesAndConsumesOverSsl()
    {
        await using var broker = await StartAsync();

        await RoundTripAsync(broker, "ssl", Ssl());
    }

    [Fact]
    public async Task KcatWithAClientCertificateActsAsItsPrincipal()
    {
        await using var broker = await StartAsync(o =>
        {
            o.TlsTrustedCertificates.Add(Authority);
            o.Config["ssl.client.auth"] = "required";
            o.Config["ssl.principal.mapping.rules"] = "RULE:^CN=([^,]*),.*$/$1/L";
        });
        var principals = new HashSet<string>();
        broker.Intercept(ApiKey.Produce, context =>
        {
            lock (principals)
            {
                principals.Add(context.Connection.Principal);
            }

            return InterceptDecision.Continue;
        });

        var client = TestCertificates.Client(Authority, "CN=Carol,O=Tributary Tests");
        await RoundTripAsync(broker, "mtls", [.. Ssl(), .. ClientCertificate(client)]);
        Assert.Equal(["User:carol"], principals);

        var refused = await KcatRunner.RunAsync(["-L", "-b", broker.BootstrapServers, "-m", "5", .. Ssl()]);
        Assert.NotEqual(0, refused.ExitCode);
    }

    [Theory]
    [InlineData("PLAIN")]
    [InlineData("SCRAM-SHA-256")]
    [InlineData("SCRAM-SHA-512")]
    public async Task KcatAuthenticatesOverSaslSsl(string mechanism)
    {
        await using var broker = await StartAsync(o => o.SaslUsers["alice"] = "al1ce-secret");

        await RoundTripAsync(broker, mechanism, [.. Ssl("SASL_SSL"), "-X", "sasl.mechanisms=" + mechanism, "-X", "sasl.username=alice", "-X", "sasl.password=al1ce-secret"]);
        var wrong = await KcatRunner.RunAsync(["-L", "-b", broker.BootstrapServers, "-m", "5", .. Ssl("SASL_SSL"),
            "-X", "sasl.mechanisms=" + mechanism, "-X", "sasl.username=alice", "-X", "sasl.password=wrong"]);
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.Contains("Authentication failed", wrong.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KcatThatDoesNotTrustTheBrokersAuthorityFails()
    {
        await using var broker = await StartAsync();
        var otherAuthority = Path.Combine(_work, "other-ca.pem");
        await File.WriteAllTextAsync(otherAuthority, TestCertificates.CertificatePem(TestCertificates.Authority("Some Other CA")));

        var result = await KcatRunner.RunAsync(["-L", "-b", broker.BootstrapServers, "-m", "5", "-X", "security.protocol=SSL", "-X", "ssl.ca.location=" + otherAuthority]);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("certificate verify failed", result.StandardError, StringComparison.Ordinal);
    }

    private async Task RoundTripAsync(TributaryBroker broker, string label, string[] security)
    {
        var input = Path.Combine(_work, label + "-in.txt");
        await File.WriteAllLinesAsync(input, Enumerable.Range(0, 20).Select(i => $"k{i}\t{label}-{i}"));
        await KcatRunner.ProduceLinesAsync(broker.BootstrapServers, "secured", input, [.. security, "-X", "acks=all"]);

        var output = Path.Combine(_work, label + "-out.json");
        var consumed = await KcatRunner.RunAsync(["-C", "-b", broker.BootstrapServers, "-t", "secured", "-o", "beginning", "-e", "-J", "-q", .. security], output);
        Assert.True(consumed.ExitCode == 0, "kcat -C failed: " + consumed.Describe());
        var payloads = File.ReadLines(output).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<KcatMessage>(l)!.Payload);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"{label}-{i}").Order(StringComparer.Ordinal), payloads.Order(StringComparer.Ordinal));
    }

    private static async Task<TributaryBroker> StartAsync(Action<TributaryBrokerOptions>? configure = null)
    {
        var options = new TributaryBrokerOptions { TlsCertificate = TestCertificates.Server(Authority) };
        options.Topics["secured"] = 2;
        configure?.Invoke(options);
        return await TributaryBroker.StartAsync(options);
    }

    private string[] Ssl(string protocol = "SSL")
    {
        var authority = Path.Combine(_work, "ca.pem");
        File.WriteAllText(authority, TestCertificates.CertificatePem(Authority));
        return ["-X", "security.protocol=" + protocol, "-X", "ssl.ca.location=" + authority];
    }

    private string[] ClientCertificate(X509Certificate2 certificate)
    {
        var certificatePath = Path.Combine(_work, "client.pem");
        var keyPath = Path.Combine(_work, "client.key");
        File.WriteAllText(certificatePath, TestCertificates.CertificatePem(certificate));
        File.WriteAllText(keyPath, TestCertificates.KeyPem(certificate));
        return ["-X", "ssl.certificate.location=" + certificatePath, "-X", "ssl.key.location=" + keyPath];
    }
}
