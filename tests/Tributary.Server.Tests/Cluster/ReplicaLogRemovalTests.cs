using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Broker.Cluster;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Server.Client;
using Tributary.Tests.Shared.Cluster;
using ApiKey = Tributary.Protocol.ApiKey;
using ProtocolError = Tributary.Protocol.ErrorCode;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// A broker keeps logs only for the partitions etcd names it a replica of (real etcd, three embedded brokers): a
/// reassignment that removes it deletes its log, requests for the partition then answer NOT_LEADER_OR_FOLLOWER and
/// create nothing, and a log left on disk for a partition it no longer hosts goes when it next joins, but never while
/// it cannot read the cluster.
/// </summary>
public sealed class ReplicaLogRemovalTests(EtcdFixture fixture) : IClassFixture<EtcdFixture>
{
    private const string Topic = "moved";
    private const int Records = 5;

    [Fact]
    public async Task A_replica_removed_by_a_reassignment_deletes_its_log_and_requests_for_it_create_nothing()
    {
        await using var brokers = new EtcdBrokers(fixture.Etcd, "rlog-move");
        await brokers.StartAllAsync(3);
        await CreateTopicAsync(brokers, [[1, 2]]);
        await ProduceToLeaderAsync(brokers, 0, [1, 2]);
        var removed = PartitionDirectory(brokers[1], 0);
        Assert.True(Directory.Exists(removed));

        await using (var admin = await KafkaWireClient.ConnectAsync(brokers[2].BootstrapServers))
        {
            Assert.Equal(ProtocolError.None, await ReassignAsync(admin, 0, [2, 3]));
        }

        await ReplicationTests.WaitUntilAsync(() => brokers.Running.Values.All(b => b.Core.Cluster!.TryGetPartition(Topic, 0, out var s)
            && s.Replicas.SequenceEqual([2, 3]) && !ClusterNode.InReassignment(s)));
        await ReplicationTests.WaitUntilAsync(() => !Directory.Exists(removed));
        Assert.False(brokers[1].Core.Logs.TryGet(Topic, 0, out _));
        Assert.Null(brokers[1].Core.Replicas!.StateOf(Topic, 0));
        Assert.True(Directory.Exists(PartitionDirectory(brokers[3], 0)));

        // Broker 1 is no replica: a produce, a consumer's fetch and a follower's fetch are refused, and none opens a log.
        await using (var client = await KafkaWireClient.ConnectAsync(brokers[1].BootstrapServers))
        {
            var produced = (await ProduceAsync(client, 0, "to a removed replica")).Responses[0].PartitionResponses[0];
            Assert.Equal((short)ProtocolError.NotLeaderOrFollower, produced.ErrorCode);
            Assert.Contains(produced.CurrentLeader.LeaderId, new[] { 2, 3 });

            var consumed = await client.SendAsync<FetchRequest, FetchResponse>(ApiKey.Fetch, 12, WireRoundTrip.Fetch(Topic, 0, 0));
            Assert.Equal((short)ProtocolError.NotLeaderOrFollower, consumed.Responses[0].Partitions[0].ErrorCode);

            var asFollower = WireRoundTrip.Fetch(Topic, 0, 0);
            asFollower.ReplicaId = 3;
            var replicated = await client.SendAsync<FetchRequest, FetchResponse>(ApiKey.Fetch, 12, asFollower);
            Assert.Equal((short)ProtocolError.NotLeaderOrFollower, replicated.Responses[0].Partitions[0].ErrorCode);
        }

        Assert.False(Directory.Exists(removed));
        Assert.False(brokers[1].Core.Logs.TryGet(Topic, 0, out _));
    }

    [Fact]
    public async Task A_log_left_for_a_partition_reassigned_away_while_down_stays_while_etcd_is_unreachable_and_goes_once_the_broker_joins()
    {
        await using var brokers = new EtcdBrokers(fixture.Etcd, "rlog-restart");
        await brokers.StartAllAsync(3);
        await CreateTopicAsync(brokers, [[1, 2], [1, 3]]);
        await ProduceToLeaderAsync(brokers, 0, [1, 2]);
        await ProduceToLeaderAsync(brokers, 1, [1, 3]);
        var stale = PartitionDirectory(brokers[1], 0);
        var hosted = PartitionDirectory(brokers[1], 1);

        // Partition 0 moves to {2,3} while broker 1 is down; it still names broker 1 for partition 1.
        await brokers.StopAsync(1);
        await using (var admin = await KafkaWireClient.ConnectAsync(brokers[2].BootstrapServers))
        {
            Assert.Equal(ProtocolError.None, await ReassignAsync(admin, 0, [2, 3]));
        }

        await ReplicationTests.WaitUntilAsync(() => brokers.Running.Values.All(b => b.Core.Cluster!.TryGetPartition(Topic, 0, out var s)
            && s.Replicas.SequenceEqual([2, 3]) && !ClusterNode.InReassignment(s)));
        Assert.True(Directory.Exists(stale));

        // Started without etcd (a dead endpoint), broker 1 never reads the cluster: it gives up and deletes nothing.
        var unreachable = await Assert.ThrowsAsync<ClusterUnavailableException>(() => brokers.StartAsync(1, (_, options) =>
        {
            options.Config["tributary.metadata.etcd.endpoints"] = "http://127.0.0.1:" + EtcdCluster.FreePort().ToString(CultureInfo.InvariantCulture);
            options.Config["tributary.metadata.etcd.connect.timeout.ms"] = "1000";
        }));
        Assert.Contains("did not answer", unreachable.Message, StringComparison.Ordinal);
        Assert.True(Directory.Exists(stale));
        Assert.True(Directory.Exists(hosted));

        // Started with etcd: the log of partition 0 goes once the cluster is read, the one of partition 1 stays whole.
        await brokers.StartAsync(1);
        await ReplicationTests.WaitUntilAsync(() => !Directory.Exists(stale));
        Assert.False(brokers[1].Core.Logs.TryGet(Topic, 0, out _));
        Assert.True(Directory.Exists(hosted));
        await ReplicationTests.WaitUntilAsync(() => brokers[1].Core.Logs.TryGet(Topic, 1, out var log) && log.LogEndOffset == Records
            && brokers[1].Core.Replicas?.StateOf(Topic, 1) is not null);
    }

    private static async Task CreateTopicAsync(EtcdBrokers brokers, int[][] replicas)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = brokers.Bootstrap }).Build();
        await admin.CreateTopicsAsync([new TopicSpecification
        {
            Name = Topic,
            NumPartitions = replicas.Length,
            ReplicasAssignments = replicas.Select((r, p) => (p, r)).ToDictionary(x => x.p, x => x.r.ToList()),
        }]);
    }

    // Records acks=all records to the partition's leader (its first replica) once every replica is in its ISR.
    private static async Task ProduceToLeaderAsync(EtcdBrokers brokers, int partition, int[] replicas)
    {
        await ReplicationTests.WaitUntilAsync(() => replicas.All(id => brokers[id].Core.Replicas!.StateOf(Topic, partition) is { } s
            && s.Leader == replicas[0] && s.Isr.Length == replicas.Length));
        await using var client = await KafkaWireClient.ConnectAsync(brokers[replicas[0]].BootstrapServers);
        for (var i = 0; i < Records; i++)
        {
            var response = await ProduceAsync(client, partition, "value " + i.ToString(CultureInfo.InvariantCulture));
            Assert.Equal(0, response.Responses[0].PartitionResponses[0].ErrorCode);
        }

        await ReplicationTests.WaitUntilAsync(() => replicas.All(id => brokers[id].Core.Logs.TryGet(Topic, partition, out var log) && log.HighWatermark == Records));
    }

    // Produce v10: the first version whose NOT_LEADER_OR_FOLLOWER carries the current leader (KIP-951).
    private static async Task<ProduceResponse> ProduceAsync(KafkaWireClient client, int partition, string value)
    {
        var builder = new RecordBatchBuilder();
        builder.Add(1_700_000_000_000, "k"u8.ToArray(), System.Text.Encoding.UTF8.GetBytes(value), null);
        return await client.SendAsync<ProduceRequest, ProduceResponse>(ApiKey.Produce, 10, new ProduceRequest
        {
            Acks = -1,
            TimeoutMs = 10_000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = Topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = partition, Records = builder.Build() }] }],
        });
    }

    private static async Task<ProtocolError> ReassignAsync(KafkaWireClient client, int partition, int[] replicas)
    {
        var response = await client.SendAsync<AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse>(ApiKey.AlterPartitionReassignments, 1, new AlterPartitionReassignmentsRequest
        {
            Topics = [new AlterPartitionReassignmentsRequest.ReassignableTopic
            {
                Name = Topic,
                Partitions = [new AlterPartitionReassignmentsRequest.ReassignablePartition { PartitionIndex = partition, Replicas = [.. replicas] }],
            }],
        });
        Assert.Equal(0, response.ErrorCode);
        return (ProtocolError)response.Responses[0].Partitions[0].ErrorCode;
    }

    private static string PartitionDirectory(TributaryBroker broker, int partition) =>
        Path.Combine(Path.GetFullPath(broker.Config.LogDir), Topic + "-" + partition.ToString(CultureInfo.InvariantCulture));
}
