using System.Globalization;
using System.Net.Sockets;
using Etcdserverpb;
using Google.Protobuf;
using Tributary.Broker.Cluster;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;
using Tributary.Tests.Shared.Cluster;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// A broker in cluster mode between binding its listeners and joining the cluster (real etcd): it must not answer
/// as the single node it would be without a cluster. A restarted broker waits there while its killed process's
/// registration lease runs out; answering then, it acknowledged acks=all produces to partitions it did not lead,
/// which the real leader never had (the fault test's seed 772263: lost writes, and an idempotent producer whose
/// sequence numbers the next leader refused, a fatal error for librdkafka).
/// </summary>
public sealed class ClusterJoinTests(EtcdFixture fixture) : IClassFixture<EtcdFixture>
{
    private static readonly TimeSpan WaitMax = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_broker_waiting_to_register_closes_connections_unanswered_and_serves_once_it_joined()
    {
        var prefix = "/joining-" + Guid.NewGuid().ToString("N");
        using var channel = EtcdEndpoints.Channel([.. fixture.Etcd.Endpoints.Split(',')]);
        var leases = new Lease.LeaseClient(channel);

        // The registration of an earlier, killed process of node 1, under a lease that has not ended yet.
        var earlier = await leases.LeaseGrantAsync(new LeaseGrantRequest { TTL = 60 });
        await new KV.KVClient(channel).PutAsync(new PutRequest
        {
            Key = ByteString.CopyFromUtf8(prefix + "/brokers/1"),
            Value = ByteString.CopyFromUtf8("""{"NodeId":1,"Rack":null,"Endpoints":[]}"""),
            Lease = earlier.ID,
        });

        var port = EtcdCluster.FreePort();
        var data = Directory.CreateTempSubdirectory("tributary-joining-");
        var options = new TributaryBrokerOptions { InMemory = false, DataDirectory = data.FullName };
        options.Config["node.id"] = "1";
        options.Config["listeners"] = "PLAINTEXT://127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);
        options.Config["tributary.metadata.etcd.endpoints"] = fixture.Etcd.Endpoints;
        options.Config["tributary.metadata.etcd.prefix"] = prefix;
        options.Config["tributary.metadata.etcd.lease.ms"] = "2000";
        options.Config["tributary.metadata.etcd.connect.timeout.ms"] = "120000";
        var starting = TributaryBroker.StartAsync(options);
        var revoked = false;
        try
        {
            // Listening but not registered: a request gets its connection closed, not a single node's answer.
            Assert.Null(await MetadataOnceListeningAsync(port));
            Assert.False(starting.IsCompleted);

            await leases.LeaseRevokeAsync(new LeaseRevokeRequest { ID = earlier.ID });
            revoked = true;
            var broker = await starting.WaitAsync(WaitMax);
            var metadata = await MetadataOnceListeningAsync(port);
            Assert.NotNull(metadata);
            Assert.Equal(broker.Core.ClusterId, metadata.ClusterId);
            Assert.Equal([1], metadata.Brokers.Select(b => b.NodeId));
        }
        finally
        {
            if (!revoked)
            {
                await leases.LeaseRevokeAsync(new LeaseRevokeRequest { ID = earlier.ID });
            }

            await (await starting).DisposeAsync();
            data.Delete(recursive: true);
        }
    }

    // Waits until the port accepts connections, then sends Metadata on one: its answer, or null if the broker closed
    // the connection without answering.
    private static async Task<MetadataResponse?> MetadataOnceListeningAsync(int port)
    {
        var deadline = DateTime.UtcNow + WaitMax;
        while (true)
        {
            KafkaWireClient client;
            try
            {
                client = await KafkaWireClient.ConnectAsync("127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture));
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
                continue;
            }

            await using (client)
            {
                try
                {
                    return await client.SendAsync<MetadataRequest, MetadataResponse>(ApiKey.Metadata, 12, new MetadataRequest { Topics = null, AllowAutoTopicCreation = false });
                }
                catch (Exception e) when (e is EndOfStreamException or IOException)
                {
                    return null;
                }
            }
        }
    }
}
