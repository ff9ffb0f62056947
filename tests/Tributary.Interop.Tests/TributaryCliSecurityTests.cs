using System.Security.Cryptography.X509Certificates;
using Tributary.Interop.Tests.Support;
using Tributary.Protocol;
using Tributary.Server;
using Tributary.Tests.Shared.Tls;

namespace Tributary.Interop.Tests;

// Proves the built `tributary` client commands against secured listeners through Kafka's `--command-config
// client.properties`: SASL_SSL with SCRAM (Java-style sasl.jaas.config, PEM truststore) and PLAIN (librdkafka-style
// keys), mTLS on an SSL listener; and that a refused login, an untrusted broker or a missing file is one line on
// stderr with a non-zero exit code and no stack trace.
public sealed class TributaryCliSecurityTests : IDisposable
{
    private static readonly TimeSpan CliTimeout = TimeSpan.FromSeconds(60);
    private static readonly X509Certificate2 Authority = TestCertificates.Authority("Tributary CLI CA");

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("tributary-cli-security-");

    public void Dispose() => _work.Delete(recursive: true);

    [Fact]
    public async Task TopicsProduceAndConsumeWorkOverSaslSslWithScramFromAJaasConfig()
    {
        await using var broker = await StartAsync(o => o.SaslUsers["alice"] = "al1ce=secret");
        var config = Write("client.properties", $"""
            # as for kafka-topics.sh --command-config
            security.protocol=SASL_SSL
            sasl.mechanism=SCRAM-SHA-512
            sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
                username="alice" password="al1ce=secret";
            ssl.truststore.type=PEM
            ssl.truststore.location={TruststorePath()}
            """);

        await RunAsync(["topics", "create", "secured", "--partitions", "2", "-b", broker.BootstrapServers, "--command-config", config]);
        var topics = await RunAsync(["topics", "list", "-b", broker.BootstrapServers, "--command-config", config]);
        Assert.Contains("secured", topics.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        var input = Write("input.txt", "k1:one\nk2:two\nk3:three\n");
        await RunAsync(["produce", "secured", "-K", ":", "--file", input, "-b", broker.BootstrapServers, "--command-config", config]);
        var consumed = await RunAsync(["consume", "secured", "--from", "beginning", "-e", "-f", "%k=%s\\n", "-b", broker.BootstrapServers, "--command-config", config]);
        Assert.Equal(["k1=one", "k2=two", "k3=three"], consumed.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));

        // A group member also logs in on its connection to the coordinator.
        var grouped = await RunAsync(["consume", "secured", "--group", "audit", "--from", "beginning", "--count", "3", "-f", "%s\\n", "-b", broker.BootstrapServers, "--command-config", config]);
        Assert.Equal(["one", "three", "two"], grouped.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task PlainWithLibrdkafkaStyleKeysComesFromTheEnvironmentVariable()
    {
        await using var broker = await StartAsync(o => o.SaslUsers["bob"] = "b0b-secret");
        var config = Write("client.properties", $"""
            security.protocol=sasl_ssl
            sasl.mechanism=PLAIN
            sasl.username=bob
            sasl.password=b0b-secret
            ssl.ca.location={TruststorePath()}
            """);

        var run = await RunCliAsync(["topics", "create", "from-env", "-b", broker.BootstrapServers], new Dictionary<string, string> { ["TRIBUTARY_COMMAND_CONFIG"] = config });
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.NotNull(broker.Core.Metadata.Find("from-env"));
    }

    [Fact]
    public async Task AClientCertificateFromAPemKeystoreLogsInOnAnMtlsListener()
    {
        await using var broker = await StartAsync(o =>
        {
            o.TlsTrustedCertificates.Add(Authority);
            o.Config["ssl.client.auth"] = "required";
        });
        var keystore = TestCertificates.WritePemKeystore(TestCertificates.Client(Authority, "CN=carol,O=Tributary Tests"), Path.Combine(_work.FullName, "carol.pem"));
        var withCertificate = Write("mtls.properties", $"""
            security.protocol=SSL
            ssl.truststore.type=PEM
            ssl.truststore.location={TruststorePath()}
            ssl.keystore.type=PEM
            ssl.keystore.location={keystore}
            """);
        var withoutCertificate = Write("tls.properties", $"security.protocol=SSL\nssl.ca.location={TruststorePath()}\n");

        await RunAsync(["topics", "create", "mtls", "-b", broker.BootstrapServers, "--command-config", withCertificate]);
        Assert.NotNull(broker.Core.Metadata.Find("mtls"));
        var refused = await RunCliAsync(["topics", "list", "-b", broker.BootstrapServers, "--command-config", withoutCertificate]);
        AssertOneLineFailure(refused, 1);
    }

    [Fact]
    public async Task AWrongPasswordIsOneLineAndExitCodeOne()
    {
        await using var broker = await StartAsync(o => o.SaslUsers["alice"] = "al1ce-secret");
        var config = Write("wrong.properties", $"""
            security.protocol=SASL_SSL
            sasl.mechanism=SCRAM-SHA-256
            sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="wrong";
            ssl.truststore.type=PEM
            ssl.truststore.location={TruststorePath()}
            """);

        var topics = await RunCliAsync(["topics", "list", "-b", broker.BootstrapServers, "--command-config", config]);
        var line = AssertOneLineFailure(topics, 1);
        Assert.Contains(nameof(ErrorCode.SaslAuthenticationFailed), line, StringComparison.Ordinal);
        Assert.Contains("'alice'", line, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong", line, StringComparison.Ordinal);

        var produce = await RunCliAsync(["produce", "t", "--file", Write("one.txt", "x\n"), "-b", broker.BootstrapServers, "--command-config", config]);
        Assert.Contains(nameof(ErrorCode.SaslAuthenticationFailed), AssertOneLineFailure(produce, 1), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABrokerWhoseAuthorityIsNotTrustedIsOneLine()
    {
        await using var broker = await StartAsync(o => o.SaslUsers["alice"] = "al1ce-secret");
        var config = Write("untrusted.properties", "security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.username=alice\nsasl.password=al1ce-secret\n");

        var run = await RunCliAsync(["topics", "list", "-b", broker.BootstrapServers, "--command-config", config]);
        Assert.Contains("TLS handshake", AssertOneLineFailure(run, 1), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMissingOrBadPropertiesFileIsOneLineAndExitCodeTwo()
    {
        var missing = Path.Combine(_work.FullName, "absent.properties");
        var run = await RunCliAsync(["topics", "list", "--command-config", missing]);
        Assert.Contains(missing, AssertOneLineFailure(run, 2), StringComparison.Ordinal);

        var gssapi = Write("gssapi.properties", "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=GSSAPI\n");
        run = await RunCliAsync(["produce", "t", "--command-config", gssapi]);
        Assert.Contains("sasl.mechanism", AssertOneLineFailure(run, 2), StringComparison.Ordinal);
    }

    private static Task<TributaryBroker> StartAsync(Action<TributaryBrokerOptions> configure)
    {
        var options = new TributaryBrokerOptions { TlsCertificate = TestCertificates.Server(Authority) };
        configure(options);
        return TributaryBroker.StartAsync(options);
    }

    private static string AssertOneLineFailure(ProcessResult run, int exitCode)
    {
        Assert.True(run.ExitCode == exitCode, run.Describe());
        var lines = run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, run.Describe());
        Assert.StartsWith("tributary", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.StandardError, StringComparison.Ordinal);
        return lines[0];
    }

    private string TruststorePath()
    {
        var path = Path.Combine(_work.FullName, "ca.pem");
        if (!File.Exists(path))
        {
            File.WriteAllText(path, Authority.ExportCertificatePem());
        }

        return path;
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_work.FullName, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static async Task<string> RunAsync(IEnumerable<string> arguments)
    {
        var run = await RunCliAsync(arguments);
        Assert.True(run.ExitCode == 0, run.Describe());
        return run.StandardOutput;
    }

    private static Task<ProcessResult> RunCliAsync(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null) =>
        ProcessRunner.RunAsync(StandaloneBroker.DotnetHost, [RepositoryPaths.TributaryDll, .. arguments], CliTimeout, environment: environment);
}
