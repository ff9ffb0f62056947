using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Broker.Security;
using Tributary.Broker.Security.Authorization;
using Tributary.Storage;
using Tributary.Tests.Shared.Cluster;
using Tributary.Tests.Shared.Tls;
using AclBinding = Tributary.Broker.Security.Authorization.AclBinding;
using AclOperation = Tributary.Broker.Security.Authorization.AclOperation;
using AclPatternType = Tributary.Broker.Security.Authorization.AclPatternType;
using AclPermissionType = Tributary.Broker.Security.Authorization.AclPermissionType;
using AclResourceType = Tributary.Broker.Security.Authorization.AclResourceType;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// The inter-broker listener (inter.broker.listener.name, security.inter.broker.protocol) on a real etcd: replica
/// fetchers connect to the leader's endpoint of that listener with its security (TLS, SASL SCRAM with the broker's own
/// login from the listener's JAAS config), and a follower fetch needs CLUSTER_ACTION on the cluster.
/// </summary>
public sealed class InterBrokerSecurityTests(EtcdFixture fixture) : IClassFixture<EtcdFixture>
{
    private const string Topic = "secured";
    private const string BrokerUser = "broker";
    private const string BrokerPassword = "broker-secret";
    private const string ClientUser = "alice";
    private const string ClientPassword = "alice-secret";
    private const int Records = 10;

    [Fact]
    public async Task A_sasl_ssl_scram_cluster_with_acls_replicates_acks_all_writes_and_fails_over()
    {
        var authority = TestCertificates.Authority("inter-broker-ca");
        await using var brokers = new EtcdBrokers(fixture.Etcd, "ib-saslssl", (_, options) =>
        {
            // The only listener is SASL_SSL (TributaryBrokerOptions names it so with users and a certificate).
            options.TlsCertificate = TestCertificates.Server(authority);
            options.TlsTrustedCertificates.Add(authority);
            options.SaslUsers[BrokerUser] = BrokerPassword;
            options.SaslUsers[ClientUser] = ClientPassword;
            options.Config["sasl.enabled.mechanisms"] = SaslMechanisms.ScramSha256;
            options.Config["security.inter.broker.protocol"] = ListenerSecurity.SaslSsl;
            options.Config["sasl.mechanism.inter.broker.protocol"] = SaslMechanisms.ScramSha256;
            options.Config["listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config"] = ScramJaas(BrokerPassword);
            options.Config["authorizer.class.name"] = Authorizer.StandardAuthorizerClass;
            options.Config["super.users"] = "User:" + ClientUser;
        });
        for (var id = 1; id <= 3; id++)
        {
            await brokers.StartAsync(id);

            // The broker's own principal is no super user: only this ACL lets it fetch as a follower.
            Assert.All(brokers[id].Core.Authorizer.Create([new AclBinding(AclResourceType.Cluster, AclBinding.ClusterName, AclPatternType.Literal, "User:" + BrokerUser,
                AclBinding.Wildcard, AclOperation.ClusterAction, AclPermissionType.Allow)]), Assert.Null);
        }

        await ReplicationTests.WaitUntilAsync(() => brokers.Running.Values.All(b => b.Core.Cluster!.LiveBrokers.Count == 3));
        var client = SecureClient(brokers.Bootstrap, authority);
        await CreateTopicAsync(client, 3);
        await WaitForIsrAsync(brokers, 3);

        using var producer = new ProducerBuilder<string, string>(new ProducerConfig(client) { Acks = Acks.All, EnableIdempotence = true, LingerMs = 0, MessageTimeoutMs = 60_000 }).Build();
        var expected = await EtcdReplicationTests.ProduceAsync(producer, 0, Records, Topic);
        await ReplicationTests.WaitUntilAsync(() => brokers.Running.Values.All(b => Log(b).HighWatermark == Records));

        var stopped = LeaderId(brokers);
        await brokers.StopAsync(stopped);
        await ReplicationTests.WaitUntilAsync(() => brokers.Running.Values.All(b => b.Core.Cluster!.TryGetPartition(Topic, 0, out var s)
            && s.Leader > 0 && s.Leader != stopped && b.Core.Replicas!.StateOf(Topic, 0)?.Leader == s.Leader));
        expected.AddRange(await EtcdReplicationTests.ProduceAsync(producer, Records, Records, Topic));

        // The remaining follower fetched the new records from the new leader over SASL_SSL: its log has them all.
        await ReplicationTests.WaitUntilAsync(() => brokers.Running.Values.All(b => Log(b).HighWatermark == 2 * Records));
        Assert.Equal(expected, Consume(client, expected.Count));
    }

    [Fact]
    public async Task Replication_uses_a_separate_plaintext_internal_listener_while_clients_use_sasl()
    {
        await using var brokers = new EtcdBrokers(fixture.Etcd, "ib-internal", (_, options) =>
        {
            // CLIENT is the first listener, so only the inter-broker listener name leads the fetchers to INTERNAL.
            options.Config["listeners"] = "CLIENT://127.0.0.1:0,INTERNAL://127.0.0.1:0";
            options.Config["listener.security.protocol.map"] = "CLIENT:SASL_PLAINTEXT,INTERNAL:PLAINTEXT";
            options.Config["inter.broker.listener.name"] = "INTERNAL";
            options.Config["sasl.enabled.mechanisms"] = SaslMechanisms.Plain;
            options.Config["listener.name.client.plain.sasl.jaas.config"] = $"{PlainJaasConfig.LoginModule} required user_{ClientUser}=\"{ClientPassword}\";";
        });
        await brokers.StartAllAsync(2);
        var bootstrap = string.Join(',', brokers.Running.Values.Select(b => b.BootstrapServersOf("CLIENT")));
        var client = new ClientConfig
        {
            BootstrapServers = bootstrap,
            SecurityProtocol = SecurityProtocol.SaslPlaintext,
            SaslMechanism = SaslMechanism.Plain,
            SaslUsername = ClientUser,
            SaslPassword = ClientPassword,
        };
        await CreateTopicAsync(client, 2);
        await WaitForIsrAsync(brokers, 2);

        // Every broker registered both listeners, CLIENT first: a fetcher on the first endpoint could not replicate.
        Assert.All(brokers[1].Core.Cluster!.LiveBrokers, b => Assert.Equal(["CLIENT", "INTERNAL"], b.Endpoints.Select(e => e.Listener)));
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig(client) { Acks = Acks.All, EnableIdempotence = true, LingerMs = 0 }).Build();
        var expected = await EtcdReplicationTests.ProduceAsync(producer, 0, Records, Topic);
        await ReplicationTests.WaitUntilAsync(() => brokers.Running.Values.All(b => Log(b).HighWatermark == Records));
        var leader = brokers[LeaderId(brokers)];
        Assert.All(brokers.Running.Values, b => Assert.Equal(ReplicationTests.ReadUpTo(Log(leader), Records), ReplicationTests.ReadUpTo(Log(b), Records)));
        Assert.Equal(expected, Consume(client, expected.Count));
    }

    [Fact]
    public async Task A_follower_with_a_wrong_broker_password_stays_out_of_the_isr_and_logs_why()
    {
        var log = new CapturedLog();
        using var logs = log.CreateFactory();
        await using var brokers = new EtcdBrokers(fixture.Etcd, "ib-wrongpw", (id, options) =>
        {
            options.Config["listeners"] = "SASL_PLAINTEXT://127.0.0.1:0";
            options.SaslUsers[BrokerUser] = BrokerPassword;
            options.SaslUsers[ClientUser] = ClientPassword;
            options.Config["sasl.enabled.mechanisms"] = SaslMechanisms.ScramSha512;
            options.Config["security.inter.broker.protocol"] = ListenerSecurity.SaslPlaintext;
            options.Config["sasl.mechanism.inter.broker.protocol"] = SaslMechanisms.ScramSha512;
            options.Config["replica.lag.time.max.ms"] = "2000";

            // Broker 2 logs in with a password its peers do not hold.
            options.Config["listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config"] = ScramJaas(id == 2 ? "not-the-password" : BrokerPassword);
            if (id == 2)
            {
                options.LoggerFactory = logs;
            }
        });
        await brokers.StartAllAsync(2);
        var client = new ClientConfig
        {
            BootstrapServers = brokers.Bootstrap,
            SecurityProtocol = SecurityProtocol.SaslPlaintext,
            SaslMechanism = SaslMechanism.ScramSha512,
            SaslUsername = ClientUser,
            SaslPassword = ClientPassword,
        };
        using (var admin = new AdminClientBuilder(client).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = Topic, NumPartitions = 1, ReplicasAssignments = new() { [0] = [1, 2] } }]);
        }

        // Broker 1 leads; broker 2 cannot log in to it, so the leader drops it from the ISR after replica.lag.time.max.ms.
        await ReplicationTests.WaitUntilAsync(() => brokers.Running.Values.All(b => b.Core.Cluster!.TryGetPartition(Topic, 0, out var s) && s.Leader == 1 && s.Isr.SequenceEqual([1])));
        await ReplicationTests.WaitUntilAsync(() => log.Count(1152) >= 2);
        Assert.Contains(log.Entries, e => e.EventId == 1152 && e.Message.Contains("refused this broker's login", StringComparison.Ordinal));

        using var producer = new ProducerBuilder<string, string>(new ProducerConfig(client) { Acks = Acks.All, LingerMs = 0 }).Build();
        await EtcdReplicationTests.ProduceAsync(producer, 0, Records, Topic);

        // Broker 2 is still up, registered and retrying; it holds none of the records and is still out of the ISR.
        Assert.Equal(2, brokers[2].Core.Cluster!.LiveBrokers.Count);
        Assert.Equal(0, Log(brokers[2]).LogEndOffset);
        Assert.True(brokers[1].Core.Cluster!.TryGetPartition(Topic, 0, out var state));
        Assert.Equal([1], state.Isr);
    }

    private static string ScramJaas(string password) => $"{JaasConfig.ScramLoginModule} required username=\"{BrokerUser}\" password=\"{password}\";";

    private static ClientConfig SecureClient(string bootstrap, System.Security.Cryptography.X509Certificates.X509Certificate2 authority) => new()
    {
        BootstrapServers = bootstrap,
        SecurityProtocol = SecurityProtocol.SaslSsl,
        SslCaPem = authority.ExportCertificatePem(),
        SaslMechanism = SaslMechanism.ScramSha256,
        SaslUsername = ClientUser,
        SaslPassword = ClientPassword,
    };

    private static async Task CreateTopicAsync(ClientConfig client, short replicationFactor)
    {
        using var admin = new AdminClientBuilder(client).Build();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = Topic, NumPartitions = 1, ReplicationFactor = replicationFactor }]);
    }

    private static Task WaitForIsrAsync(EtcdBrokers brokers, int replicas) =>
        ReplicationTests.WaitUntilAsync(() => brokers.Running.Values.All(b => b.Core.Replicas!.StateOf(Topic, 0) is { Leader: > 0 } s && s.Isr.Length == replicas));

    private static int LeaderId(EtcdBrokers brokers) => brokers.Running.Values.First().Core.Cluster!.TryGetPartition(Topic, 0, out var state) ? state.Leader : -1;

    private static PartitionLog Log(TributaryBroker broker) => broker.Core.FindLog(broker.Core.Metadata.Find(Topic)!, 0)!;

    private static List<string> Consume(ClientConfig client, int count)
    {
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig(client) { GroupId = "reader", EnableAutoCommit = false }).Build();
        consumer.Assign(new TopicPartitionOffset(Topic, 0, Offset.Beginning));
        var values = new List<string>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (values.Count < count && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false, Message: { } message })
            {
                values.Add(message.Value);
            }
        }

        return values;
    }
}
