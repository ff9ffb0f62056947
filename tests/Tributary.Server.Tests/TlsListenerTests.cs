using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Security;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;
using Tributary.Tests.Shared.Tls;

namespace Tributary.Server.Tests;

/// <summary>
/// SSL and SASL_SSL listeners on loopback with certificates made here: requests over TLS, the principal of a client
/// certificate, mTLS refusals, hostile or confused clients (each closed with a log line, others unaffected), and
/// certificates replaced while the broker runs.
/// </summary>
public sealed class TlsListenerTests : IDisposable
{
    private static readonly X509Certificate2 Authority = TestCertificates.Authority("Tributary Test CA");
    private static readonly X509Certificate2 ServerCertificate = TestCertificates.Server(Authority);
    private readonly string _directory = Directory.CreateTempSubdirectory("tributary-tls-").FullName;
    private readonly CapturedLog _log = new();

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private async Task<TributaryBroker> StartAsync(Action<TributaryBrokerOptions>? configure = null)
    {
        var options = new TributaryBrokerOptions { TlsCertificate = ServerCertificate, LoggerFactory = _log.CreateFactory() };
        options.Topics["events"] = 1;
        configure?.Invoke(options);
        return await TributaryBroker.StartAsync(options);
    }

    private static SslClientAuthenticationOptions Client(X509Certificate2? certificate = null, X509Certificate2? trust = null, Action<X509Certificate>? seen = null) => new()
    {
        TargetHost = "localhost",
        ClientCertificates = certificate is null ? null : [certificate],
        RemoteCertificateValidationCallback = (_, presented, _, _) =>
        {
            seen?.Invoke(presented!);
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(trust ?? Authority);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(X509CertificateLoader.LoadCertificate(presented!.GetRawCertData()));
        },
    };

    private static Task<ApiVersionsResponse> ApiVersionsAsync(KafkaWireClient client) =>
        client.SendAsync<ApiVersionsRequest, ApiVersionsResponse>(ApiKey.ApiVersions, 3, new ApiVersionsRequest { ClientSoftwareName = "test", ClientSoftwareVersion = "1" });

    /// <summary>Whether a client with these options is served: false once the broker has closed its connection.</summary>
    private static async Task<bool> ServedAsync(TributaryBroker broker, SslClientAuthenticationOptions options)
    {
        try
        {
            await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers, options);
            return (await ApiVersionsAsync(client)).ErrorCode == 0;
        }
        catch (Exception e) when (e is IOException or AuthenticationException or EndOfStreamException)
        {
            return false;
        }
    }

    [Fact]
    public async Task Records_go_and_come_back_over_TLS_as_an_anonymous_principal()
    {
        await using var broker = await StartAsync();
        string? principal = null;
        broker.Intercept(ApiKey.Produce, context =>
        {
            principal = context.Connection.Principal;
            return InterceptDecision.Continue;
        });

        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers, Client());
        Assert.Equal(0, (await WireRoundTrip.ProduceAsync(client, "events", 0, "over tls")).Responses[0].PartitionResponses[0].ErrorCode);
        Assert.Equal(["over tls"], await WireRoundTrip.FetchValuesAsync(client, "events", 0, 0));
        Assert.Equal("User:ANONYMOUS", principal);
    }

    [Fact]
    public async Task A_client_certificate_names_the_principal_through_the_mapping_rules()
    {
        await using var broker = await StartAsync(o =>
        {
            o.TlsTrustedCertificates.Add(Authority);
            o.Config["ssl.client.auth"] = "required";
            o.Config["ssl.principal.mapping.rules"] = "RULE:^CN=([^,]*),OU=ops,.*$/$1-ops/L,DEFAULT";
        });
        var principals = new List<string>();
        broker.Intercept(ApiKey.ApiVersions, context =>
        {
            principals.Add(context.Connection.Principal);
            return InterceptDecision.Continue;
        });

        Assert.True(await ServedAsync(broker, Client(TestCertificates.Client(Authority, "CN=Alice,OU=ops,O=Example"))));
        Assert.True(await ServedAsync(broker, Client(TestCertificates.Client(Authority, "CN=bob,O=\"Example, Inc.\""))));
        Assert.Equal(["User:alice-ops", "User:CN=bob,O=Example\\, Inc."], principals);
    }

    [Fact]
    public async Task Required_client_authentication_closes_connections_without_a_trusted_certificate()
    {
        var stranger = TestCertificates.Authority("Unknown CA");
        await using var broker = await StartAsync(o =>
        {
            o.TlsTrustedCertificates.Add(Authority);
            o.Config["ssl.client.auth"] = "required";
        });

        Assert.False(await ServedAsync(broker, Client(TestCertificates.Client(stranger, "CN=mallory"))));
        Assert.False(await ServedAsync(broker, Client()));
        Assert.True(await ServedAsync(broker, Client(TestCertificates.Client(Authority, "CN=alice"))));
        Assert.Equal(2, _log.Entries.Count(e => e.EventId == 322 && e.Message.Contains("TLS handshake failed", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Requested_client_authentication_serves_clients_without_a_certificate_and_refuses_untrusted_ones()
    {
        await using var broker = await StartAsync(o =>
        {
            o.TlsTrustedCertificates.Add(Authority);
            o.Config["ssl.client.auth"] = "requested";
        });

        Assert.True(await ServedAsync(broker, Client()));
        Assert.False(await ServedAsync(broker, Client(TestCertificates.Client(TestCertificates.Authority("Unknown CA"), "CN=mallory"))));
    }

    [Fact]
    public async Task A_plaintext_client_on_a_TLS_port_is_closed_with_a_log_line()
    {
        await using var broker = await StartAsync();
        await using var plaintext = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        await Assert.ThrowsAnyAsync<IOException>(() => ApiVersionsAsync(plaintext));
        Assert.Contains(_log.Entries, e => e.EventId == 322 && e.Message.Contains("does not speak TLS", StringComparison.Ordinal));
        Assert.True(await ServedAsync(broker, Client()));
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0x16, 0x03, 0x01 })]
    public async Task A_stalled_handshake_is_closed_after_the_handshake_timeout(byte[] sent)
    {
        await using var broker = await StartAsync(o => o.Config["tributary.ssl.handshake.timeout.ms"] = "300");
        using var socket = await RawSocket.ConnectAsync(broker.Port);
        await socket.SendAsync(sent);
        Assert.Equal(0, await RawSocket.ReceiveAsync(socket));
        // A client that sent nothing is an idle probe, logged at debug level; a stalled handshake is a warning.
        var expected = sent.Length == 0 ? 326 : 323;
        Assert.Contains(_log.Entries, e => e.EventId == expected && e.Message.Contains("tributary.ssl.handshake.timeout.ms (300 ms)", StringComparison.Ordinal));
        Assert.True(await ServedAsync(broker, Client()));
    }

    [Fact]
    public async Task A_TLS_client_on_a_plaintext_port_is_closed_with_a_log_line()
    {
        var options = new TributaryBrokerOptions { LoggerFactory = _log.CreateFactory() };
        await using var broker = await TributaryBroker.StartAsync(options);
        Assert.False(await ServedAsync(broker, Client()));
        Assert.Contains(_log.Entries, e => e.EventId == 301 && e.Message.Contains("TLS handshake on a listener without TLS", StringComparison.Ordinal));
        await using var plaintext = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        Assert.Equal(0, (await ApiVersionsAsync(plaintext)).ErrorCode);
    }

    [Fact]
    public async Task Tls_runs_straight_over_the_socket_on_a_listener_of_its_own()
    {
        await using var broker = await StartAsync(o => o.Config["listeners"] = "SSL://127.0.0.1:0");
        await using (var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers, Client()))
        {
            Assert.Equal(0, (await ApiVersionsAsync(client)).ErrorCode);
        }

        // Event 324 names the connection: a SocketStreamConnection ("t…"), not a piped SocketConnection ("c…").
        Assert.Contains(_log.Entries, e => e.EventId == 324 && e.Message.StartsWith("Connection t", StringComparison.Ordinal));
        Assert.DoesNotContain(_log.Entries, e => e.EventId == 324 && e.Message.StartsWith("Connection c", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_replaced_keystore_file_serves_new_handshakes_while_open_connections_stay()
    {
        var keystore = TestCertificates.WritePemKeystore(ServerCertificate, Path.Combine(_directory, "broker.pem"));
        await using var broker = await StartAsync(o =>
        {
            o.TlsCertificate = null;
            o.Config["listeners"] = "SSL://127.0.0.1:0";
            o.Config["ssl.keystore.type"] = "PEM";
            o.Config["ssl.keystore.location"] = keystore;
        });
        var seen = new List<string>();
        await using var before = await KafkaWireClient.ConnectAsync(broker.BootstrapServers, Client(seen: c => seen.Add(c.Subject)));

        var renewed = TestCertificates.Server(Authority, "renewed");
        TestCertificates.WritePemKeystore(renewed, keystore + ".new");
        File.Move(keystore + ".new", keystore, overwrite: true);
        await using var after = await KafkaWireClient.ConnectAsync(broker.BootstrapServers, Client(seen: c => seen.Add(c.Subject)));

        Assert.Equal(["CN=broker, O=Tributary Tests", "CN=renewed, O=Tributary Tests"], seen);
        Assert.Equal(0, (await ApiVersionsAsync(before)).ErrorCode);
        Assert.Equal(0, (await ApiVersionsAsync(after)).ErrorCode);
        Assert.Equal(1, _log.Count(320));
    }

    [Fact]
    public async Task AlterConfigs_of_the_listeners_keystore_serves_new_handshakes_with_it()
    {
        var first = TestCertificates.WritePemKeystore(ServerCertificate, Path.Combine(_directory, "first.pem"));
        var second = TestCertificates.WritePemKeystore(TestCertificates.Server(Authority, "second"), Path.Combine(_directory, "second.pem"));
        await using var broker = await StartAsync(o =>
        {
            o.TlsCertificate = null;
            o.Config["listeners"] = "SSL://127.0.0.1:0";
            o.Config["ssl.keystore.type"] = "PEM";
            o.Config["listener.name.ssl.ssl.keystore.location"] = first;
        });
        var seen = new List<string>();
        await using var admin = await KafkaWireClient.ConnectAsync(broker.BootstrapServers, Client(seen: c => seen.Add(c.Subject)));
        var response = await admin.SendAsync<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse>(ApiKey.IncrementalAlterConfigs, 1, new IncrementalAlterConfigsRequest
        {
            Resources = [new() { ResourceType = 4, ResourceName = "0", Configs = [new() { Name = "listener.name.ssl.ssl.keystore.location", ConfigOperation = 0, Value = second }] }],
        });
        Assert.Equal(0, response.Responses[0].ErrorCode);

        await using var after = await KafkaWireClient.ConnectAsync(broker.BootstrapServers, Client(seen: c => seen.Add(c.Subject)));
        Assert.Equal(["CN=broker, O=Tributary Tests", "CN=second, O=Tributary Tests"], seen);
        Assert.Equal(0, (await ApiVersionsAsync(admin)).ErrorCode);
    }

    [Fact]
    public async Task A_SASL_SSL_connection_acts_as_its_SASL_user()
    {
        await using var broker = await StartAsync(o => o.SaslUsers["alice"] = "alice-secret");
        string? principal = null;
        broker.Intercept(ApiKey.Metadata, context =>
        {
            principal = context.Connection.Principal;
            return InterceptDecision.Continue;
        });

        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers, Client());
        var handshake = await client.SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = SaslMechanisms.Plain });
        Assert.Equal(0, handshake.ErrorCode);
        var authenticate = await client.SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(ApiKey.SaslAuthenticate, 2,
            new SaslAuthenticateRequest { AuthBytes = "\0alice\0alice-secret"u8.ToArray() });
        Assert.Equal(0, authenticate.ErrorCode);
        await client.SendAsync<MetadataRequest, MetadataResponse>(ApiKey.Metadata, 12, new MetadataRequest { Topics = [] });
        Assert.Equal("User:alice", principal);
    }

    [Fact]
    public async Task A_keystore_that_cannot_be_read_stops_the_start_without_quoting_its_password()
    {
        var path = Path.Combine(_directory, "broken.p12");
        await File.WriteAllBytesAsync(path, ServerCertificate.Export(X509ContentType.Pkcs12, "right-password"));
        var options = new TributaryBrokerOptions();
        options.Config["listeners"] = "SSL://127.0.0.1:0";
        options.Config["ssl.keystore.type"] = "PKCS12";
        options.Config["ssl.keystore.location"] = path;
        options.Config["ssl.keystore.password"] = "wrong-password";
        var error = await Assert.ThrowsAsync<SslStoreException>(() => TributaryBroker.StartAsync(options));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-password", error.Message, StringComparison.Ordinal);

        options.Config["ssl.keystore.password"] = "right-password";
        await using var broker = await TributaryBroker.StartAsync(options);
        Assert.True(await ServedAsync(broker, Client()));
    }
}
