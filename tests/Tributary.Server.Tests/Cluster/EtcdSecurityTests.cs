using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Etcdserverpb;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker.Cluster;
using Tributary.Tests.Shared.Cluster;
using Tributary.Tests.Shared.Tls;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// A real etcd serving clients only over TLS, requiring a client certificate (--client-cert-auth) and with its
/// user/password auth enabled; the brokers' etcd user has a role that may read and write only the tests' key prefix.
/// The authority, the certificates and the users are made here.
/// </summary>
public sealed class SecureEtcdFixture : IAsyncLifetime
{
    public const string Username = "tributary";
    public const string Password = "broker-secret";
    public const string KeyPassword = "key-secret";

    // Every test's prefix starts with this (EtcdBrokers' "/" + name + "-"); the role may use nothing else.
    public const string PrefixBase = "/secure-";

    private readonly X509Certificate2 _authority = TestCertificates.Authority("etcd test CA");
    private readonly X509Certificate2 _other = TestCertificates.Authority("some other CA");
    private readonly string _directory = Directory.CreateTempSubdirectory("tributary-etcd-tls-").FullName;
    private X509Certificate2? _client;

    public EtcdCluster Etcd { get; private set; } = null!;

    public string AuthorityFile => Path.Combine(_directory, "ca.pem");

    public string OtherAuthorityFile => Path.Combine(_directory, "other-ca.pem");

    public string ClientCertificateFile => Path.Combine(_directory, "client.pem");

    public string ClientKeyFile => Path.Combine(_directory, "client-key.pem");

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(AuthorityFile, TestCertificates.CertificatePem(_authority));
        await File.WriteAllTextAsync(OtherAuthorityFile, TestCertificates.CertificatePem(_other));
        using var server = TestCertificates.Server(_authority, "etcd");
        await File.WriteAllTextAsync(Path.Combine(_directory, "server.pem"), TestCertificates.CertificatePem(server));
        await File.WriteAllTextAsync(Path.Combine(_directory, "server-key.pem"), TestCertificates.KeyPem(server));

        // The broker's key is encrypted, so tributary.metadata.etcd.ssl.key.password is used too.
        _client = TestCertificates.Client(_authority, "CN=tributary-broker,O=Tributary Tests");
        await File.WriteAllTextAsync(ClientCertificateFile, TestCertificates.CertificatePem(_client));
        using (var key = _client.GetECDsaPrivateKey()!)
        {
            await File.WriteAllTextAsync(ClientKeyFile, key.ExportEncryptedPkcs8PrivateKeyPem(KeyPassword,
                new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 100_000)));
        }

        Etcd = await EtcdCluster.StartAsync(1, tls: new EtcdTls(Path.Combine(_directory, "server.pem"), Path.Combine(_directory, "server-key.pem"),
            _authority, AuthorityFile, _client));
        await EnableAuthAsync();
    }

    // etcd's auth is enabled once a root user with the root role exists; the brokers' user gets a role for the prefix.
    private async Task EnableAuthAsync()
    {
        var security = new EtcdClientSecurity(new X509Certificate2Collection(_authority),
            SslStreamCertificateContextFor(_client!), null, null);
        using var channel = new EtcdChannel(Etcd.Endpoints.Split(','), security, NullLogger.Instance);
        var auth = new Auth.AuthClient(channel);
        await auth.UserAddAsync(new AuthUserAddRequest { Name = "root", Password = "root-secret" });
        await auth.UserGrantRoleAsync(new AuthUserGrantRoleRequest { User = "root", Role = "root" });
        await auth.RoleAddAsync(new AuthRoleAddRequest { Name = "brokers" });
        await auth.RoleGrantPermissionAsync(new AuthRoleGrantPermissionRequest
        {
            Name = "brokers",
            Perm = new Authpb.Permission
            {
                PermType = Authpb.Permission.Types.Type.Readwrite,
                Key = ByteString.CopyFromUtf8(PrefixBase),
                RangeEnd = ClusterKeys.RangeEnd(PrefixBase),
            },
        });
        await auth.UserAddAsync(new AuthUserAddRequest { Name = Username, Password = Password });
        await auth.UserGrantRoleAsync(new AuthUserGrantRoleRequest { User = Username, Role = "brokers" });
        await auth.AuthEnableAsync(new AuthEnableRequest());
    }

    private static System.Net.Security.SslStreamCertificateContext SslStreamCertificateContextFor(X509Certificate2 certificate) =>
        System.Net.Security.SslStreamCertificateContext.Create(certificate, null, offline: true);

    /// <summary>A broker's etcd settings for this etcd: the truststore, the client certificate with its encrypted key, the user.</summary>
    public void Secure(TributaryBrokerOptions options)
    {
        options.Config["tributary.metadata.etcd.ssl.truststore.location"] = AuthorityFile;
        options.Config["tributary.metadata.etcd.ssl.keystore.location"] = ClientCertificateFile;
        options.Config["tributary.metadata.etcd.ssl.key.location"] = ClientKeyFile;
        options.Config["tributary.metadata.etcd.ssl.key.password"] = KeyPassword;
        options.Config["tributary.metadata.etcd.username"] = Username;
        options.Config["tributary.metadata.etcd.password"] = Password;
    }

    public async Task DisposeAsync()
    {
        await Etcd.DisposeAsync();
        _client?.Dispose();
        _authority.Dispose();
        _other.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>
/// Cluster mode against an etcd that takes only TLS clients with a certificate and authenticated users: brokers join,
/// replicate and fail over as over plaintext, take a new token when etcd forgets theirs, and a setting etcd refuses
/// fails the start at once with a message naming the key.
/// </summary>
public sealed class EtcdSecurityTests(SecureEtcdFixture fixture) : IClassFixture<SecureEtcdFixture>
{
    private const string Topic = "secured";
    private const int Records = 10;

    [Fact]
    public async Task Two_brokers_join_over_tls_as_an_etcd_user_replicate_and_fail_over()
    {
        await using var brokers = new EtcdBrokers(fixture.Etcd, "secure", (_, options) => fixture.Secure(options));
        await brokers.StartAllAsync(2);
        Assert.All(brokers.Running.Values, b => Assert.True(b.Core.Cluster!.EtcdAuthentications >= 1));
        Assert.StartsWith("https://", fixture.Etcd.Endpoints, StringComparison.Ordinal);

        await CreateTopicAsync(brokers.Bootstrap, Topic);
        await ReplicationTests.WaitUntilAsync(() => brokers.Running.Values.All(b => b.Core.Replicas!.StateOf(Topic, 0) is { Isr.Length: 2 }));
        using var producer = Producer(brokers.Bootstrap);
        var expected = await EtcdReplicationTests.ProduceAsync(producer, 0, Records, Topic);

        // The leader dies; its lease ends and the controller (the survivor) makes the follower lead.
        var leader = brokers.Running.Values.First().Core.Cluster!.TryGetPartition(Topic, 0, out var state) ? state.Leader : -1;
        var survivor = brokers.Running.Keys.Single(id => id != leader);
        await brokers.KillAsync(leader);
        await ReplicationTests.WaitUntilAsync(() => brokers[survivor].Core.Cluster!.TryGetPartition(Topic, 0, out var s) && s.Leader == survivor);
        expected.AddRange(await EtcdReplicationTests.ProduceAsync(producer, Records, Records, Topic));
        Assert.Equal(expected, EtcdReplicationTests.Consume(brokers.Bootstrap, Topic, expected.Count));
    }

    [Fact]
    public async Task After_etcd_restarts_and_forgets_their_tokens_the_brokers_authenticate_again()
    {
        using var log = new CapturedLog();
        await using var brokers = new EtcdBrokers(fixture.Etcd, "secure", (_, options) =>
        {
            fixture.Secure(options);
            options.LoggerFactory = log.CreateFactory();
        });
        await brokers.StartAllAsync(2);
        var before = brokers.Running.ToDictionary(b => b.Key, b => b.Value.Core.Cluster!.EtcdAuthentications);

        // etcd keeps its simple tokens in memory: after a restart every call with an old one is refused.
        await fixture.Etcd.KillMemberAsync(0);
        await fixture.Etcd.RestartMemberAsync(0);

        // A topic created now is written to etcd with a new token and reaches both brokers through their watches,
        // which had to be opened again with a new token too.
        await CreateTopicAsync(brokers.Bootstrap, Topic);
        await ReplicationTests.WaitUntilAsync(() => brokers.Running.Values.All(b => b.Core.Replicas!.StateOf(Topic, 0) is { Isr.Length: 2 }));
        // At least one broker's call met etcd's rejection and took a new token. Not necessarily both: in some runs one
        // broker's resumed watch and calls carried on without a rejection; why etcd accepted them is not known.
        Assert.True(log.Count(1141) >= 1, "etcd's rejection of an old token was logged");
        Assert.True(brokers.Running.Any(b => b.Value.Core.Cluster!.EtcdAuthentications > before[b.Key]),
            "no broker took a new token: " + string.Join(", ", brokers.Running.Select(b => $"broker {b.Key} {b.Value.Core.Cluster!.EtcdAuthentications} (before {before[b.Key]})")));
        using var producer = Producer(brokers.Bootstrap);
        var expected = await EtcdReplicationTests.ProduceAsync(producer, 0, Records, Topic);
        Assert.Equal(expected, EtcdReplicationTests.Consume(brokers.Bootstrap, Topic, expected.Count));
    }

    [Fact]
    public async Task A_wrong_password_fails_the_start_naming_the_password_key()
    {
        var error = await StartFailsAsync(options => options.Config["tributary.metadata.etcd.password"] = "not-the-password");
        Assert.Contains("tributary.metadata.etcd.password", error.Message, StringComparison.Ordinal);
        Assert.Contains("authentication failed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_etcd_certificate_from_another_authority_fails_the_start_naming_the_truststore_key()
    {
        var error = await StartFailsAsync(options => options.Config["tributary.metadata.etcd.ssl.truststore.location"] = fixture.OtherAuthorityFile);
        Assert.Contains("tributary.metadata.etcd.ssl.truststore.location", error.Message, StringComparison.Ordinal);
        Assert.Contains("not trusted", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_key_password_or_a_missing_file_fails_the_start_naming_its_key()
    {
        var wrongKeyPassword = await StartFailsAsync(options => options.Config["tributary.metadata.etcd.ssl.key.password"] = "wrong");
        Assert.StartsWith("tributary.metadata.etcd.ssl.key.location:", wrongKeyPassword.Message, StringComparison.Ordinal);

        var missing = await StartFailsAsync(options => options.Config["tributary.metadata.etcd.ssl.truststore.location"] = "/nonexistent/ca.pem");
        Assert.StartsWith("tributary.metadata.etcd.ssl.truststore.location:", missing.Message, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/ca.pem", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_client_certificate_the_start_gives_up_naming_the_keystore_key()
    {
        // Under TLS 1.3 etcd refuses a missing client certificate after the handshake by closing the connection,
        // which looks like any dropped connection: the start retries until the connect timeout, then names the key.
        await using var brokers = new EtcdBrokers(fixture.Etcd, "secure", (_, options) =>
        {
            fixture.Secure(options);
            options.Config.Remove("tributary.metadata.etcd.ssl.keystore.location");
            options.Config.Remove("tributary.metadata.etcd.ssl.key.location");
            options.Config.Remove("tributary.metadata.etcd.ssl.key.password");
            options.Config["tributary.metadata.etcd.connect.timeout.ms"] = "2000";
        });
        var error = await Assert.ThrowsAsync<ClusterUnavailableException>(() => brokers.StartAsync(1));
        Assert.Contains("tributary.metadata.etcd.ssl.keystore.location", error.Message, StringComparison.Ordinal);
    }

    // The start throws at once (well before the connect timeout, which would be a ClusterUnavailableException).
    private async Task<EtcdConfigurationException> StartFailsAsync(Action<TributaryBrokerOptions> change)
    {
        await using var brokers = new EtcdBrokers(fixture.Etcd, "secure", (_, options) =>
        {
            fixture.Secure(options);
            options.Config["tributary.metadata.etcd.connect.timeout.ms"] = "600000";
            change(options);
        });
        return await Assert.ThrowsAsync<EtcdConfigurationException>(() => brokers.StartAsync(1));
    }

    private static async Task CreateTopicAsync(string bootstrap, string topic)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 1, ReplicationFactor = 2 }]);
    }

    private static IProducer<string, string> Producer(string bootstrap) =>
        new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = bootstrap,
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = 0,
            MessageTimeoutMs = 60_000,
        }).Build();
}
