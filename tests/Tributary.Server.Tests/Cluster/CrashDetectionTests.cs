using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Tests.Shared.Tls;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// Crash detection (tributary.cluster.crash.detection.enable) on a real etcd: the leases here last 600 s, so a
/// leadership that moves or a registration that goes during a test went because a broker's lease was revoked. A
/// killed broker (its listener closed, its port refusing) is revoked and its partitions get new leaders; a broker whose
/// port still accepts, as a paused process's kernel does, is not, however often the controller's connection ends. The
/// watched endpoint is the inter-broker listener's, with its TLS handshake when it is TLS (a TLS listener closes a
/// connection that makes none), whichever listener comes first.
/// </summary>
public sealed class CrashDetectionTests(EtcdFixture fixture) : IClassFixture<EtcdFixture>
{
    private const string Topic = "crashed";
    private const string LongLease = "600000";

    [Fact]
    public async Task A_killed_leaders_partitions_move_without_waiting_for_its_lease()
    {
        await using var brokers = new EtcdBrokers(fixture.Etcd, "crash-kill", (_, o) => o.Config["tributary.metadata.etcd.lease.ms"] = LongLease);
        await brokers.StartAllAsync(3);
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = brokers.Bootstrap }).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = Topic, NumPartitions = 1, ReplicationFactor = 3 }]);
        }

        await ReplicationTests.WaitUntilAsync(() => brokers.Running.Values.All(b => b.Core.Replicas!.StateOf(Topic, 0) is { Leader: > 0, Isr.Length: 3 }));
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = brokers.Bootstrap,
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = 0,
            MessageTimeoutMs = 60_000,
        }).Build();
        var before = await EtcdReplicationTests.ProduceAsync(producer, 0, 3, Topic);

        var killed = brokers.Running.Values.First().Core.Cluster!.TryGetPartition(Topic, 0, out var state) ? state.Leader : -1;
        await brokers.KillAsync(killed);

        await ReplicationTests.WaitUntilAsync(() => brokers.Running.Values.All(b => !b.Core.Cluster!.IsLive(killed)
            && b.Core.Cluster.TryGetPartition(Topic, 0, out var s) && s.Leader > 0 && s.Leader != killed && !s.Isr.Contains(killed)
            && b.Core.Replicas!.StateOf(Topic, 0)?.Leader == s.Leader));
        Assert.All(brokers.Running.Values, b => Assert.NotEqual(-1, b.Core.Cluster!.ControllerId));

        // The same acks=all producer goes on on the new leader, its records after the earlier ones.
        var after = await EtcdReplicationTests.ProduceAsync(producer, 3, 3, Topic);
        var leader = brokers.Running.Values.First().Core.Cluster!.TryGetPartition(Topic, 0, out var moved) ? moved.Leader : -1;
        Assert.Equal(6, brokers[leader].Core.FindLog(brokers[leader].Core.Metadata.Find(Topic)!, 0)!.HighWatermark);
        Assert.Equal(["value 0", "value 1", "value 2", "value 3", "value 4", "value 5"], [.. before, .. after]);
    }

    [Fact]
    public async Task A_broker_whose_port_accepts_is_not_revoked_and_is_once_its_port_refuses()
    {
        // Broker 2 advertises this listener: the controller (broker 1) watches broker 2 through it. Accepting and then
        // closing connections stands for a paused process whose connections end (its kernel still accepts).
        using var port = new TcpListener(IPAddress.Loopback, 0);
        port.Start();
        var address = "127.0.0.1:" + ((IPEndPoint)port.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);
        await using var brokers = new EtcdBrokers(fixture.Etcd, "crash-pause", (id, o) =>
        {
            o.Config["tributary.metadata.etcd.lease.ms"] = LongLease;
            if (id == 2)
            {
                o.Config["advertised.listeners"] = "PLAINTEXT://" + address;
            }
        });
        await brokers.StartAsync(1);
        await ReplicationTests.WaitUntilAsync(() => brokers[1].Core.Cluster!.IsController);
        await brokers.StartAsync(2);
        await ReplicationTests.WaitUntilAsync(() => brokers[1].Core.Cluster!.IsLive(2));

        // Each close is followed by a new connect from the controller, which the port accepts: no revocation, so the
        // controller keeps watching the same registration and connects again.
        for (var ended = 0; ended < 3; ended++)
        {
            using var connection = await port.AcceptSocketAsync();
            Assert.True(brokers[1].Core.Cluster!.IsLive(2));
        }

        var held = await port.AcceptSocketAsync();
        Assert.True(brokers[1].Core.Cluster!.IsLive(2));
        Assert.True(brokers[2].Core.Cluster!.IsLive(2));

        // Now the port refuses (nothing listens) and the watched connection ends: the controller revokes the lease.
        port.Stop();
        held.Dispose();
        await ReplicationTests.WaitUntilAsync(() => !brokers[1].Core.Cluster!.IsLive(2));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_controller_watches_the_inter_broker_listener_when_the_first_listener_is_ssl(bool interBrokerListenerIsSsl)
    {
        // Broker 2 advertises this port as its inter-broker endpoint; the first listener of every broker is SSL.
        var authority = TestCertificates.Authority("crash-detection-ca");
        var certificate = TestCertificates.Server(authority);
        using var port = new TcpListener(IPAddress.Loopback, 0);
        port.Start();
        var address = "127.0.0.1:" + ((IPEndPoint)port.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);
        await using var brokers = new EtcdBrokers(fixture.Etcd, "crash-ssl-" + interBrokerListenerIsSsl.ToString().ToLowerInvariant(), (id, o) =>
        {
            o.Config["tributary.metadata.etcd.lease.ms"] = LongLease;
            o.TlsCertificate = certificate;
            o.TlsTrustedCertificates.Add(authority);
            if (interBrokerListenerIsSsl)
            {
                o.Config["security.inter.broker.protocol"] = "SSL";
            }
            else
            {
                o.Config["listeners"] = "SSL://127.0.0.1:0,INTERNAL://127.0.0.1:0";
                o.Config["listener.security.protocol.map"] = "SSL:SSL,INTERNAL:PLAINTEXT";
                o.Config["inter.broker.listener.name"] = "INTERNAL";
            }

            if (id == 2)
            {
                o.Config["advertised.listeners"] = (interBrokerListenerIsSsl ? "SSL://" : "INTERNAL://") + address;
            }
        });
        await brokers.StartAsync(1);
        await ReplicationTests.WaitUntilAsync(() => brokers[1].Core.Cluster!.IsController);
        await brokers.StartAsync(2);
        await ReplicationTests.WaitUntilAsync(() => brokers[1].Core.Cluster!.IsLive(2));
        Assert.Equal("SSL", brokers[1].Core.Cluster!.LiveBrokers.Single(b => b.NodeId == 2).Endpoints[0].Listener);

        // The controller connects to the advertised inter-broker endpoint, on SSL with a TLS handshake, and connects
        // again when the connection ends while the port accepts.
        using var waited = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        Stream? held = null;
        for (var connection = 0; connection < 2; connection++)
        {
            if (held is not null)
            {
                await held.DisposeAsync();
            }

            var socket = await port.AcceptSocketAsync(waited.Token);
            held = new NetworkStream(socket, ownsSocket: true);
            if (interBrokerListenerIsSsl)
            {
                var tls = new SslStream(held);
                held = tls;
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, waited.Token);
            }

            Assert.True(brokers[1].Core.Cluster!.IsLive(2));
        }

        // Now the port refuses and the held connection ends: the controller revokes the lease.
        port.Stop();
        await held!.DisposeAsync();
        await ReplicationTests.WaitUntilAsync(() => !brokers[1].Core.Cluster!.IsLive(2));
    }
}
