using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Etcdserverpb;
using Google.Protobuf;
using Tributary.Broker.Cluster;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Server.Client;
using Tributary.Tests.Shared.Cluster;
using ErrorCode = Tributary.Protocol.ErrorCode;

namespace Tributary.Server.Tests.Cluster;

/// <summary>One etcd cluster (3 members) for the tests of this class; each test keeps its own key prefix.</summary>
public sealed class EtcdFixture : IAsyncLifetime
{
    public EtcdCluster Etcd { get; private set; } = null!;

    public async Task InitializeAsync() => Etcd = await EtcdCluster.StartAsync(3);

    public async Task DisposeAsync() => await Etcd.DisposeAsync();
}

/// <summary>
/// Cluster mode's control plane against a real etcd of 3 members: brokers register under leases, topics and partition
/// states live in etcd, the controller moves leadership off a stopped broker, and Metadata from any broker shows it.
/// </summary>
public sealed class ClusterModeTests(EtcdFixture fixture) : IClassFixture<EtcdFixture>
{
    private const sbyte BrokerResource = 4;
    private const sbyte GroupResource = 32;

    private static readonly TimeSpan WaitMax = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Three_brokers_register_and_metadata_from_any_of_them_lists_all_three()
    {
        await using var brokers = await StartBrokersAsync(3);

        foreach (var broker in brokers.Brokers)
        {
            var metadata = await Eventually(broker, m => m.Brokers.Count == 3);
            Assert.Equal([1, 2, 3], metadata.Brokers.Select(b => b.NodeId).Order());
            Assert.All(metadata.Brokers, b => Assert.Equal(brokers.Brokers[b.NodeId - 1].Port, b.Port));
            Assert.Equal("rack-" + (metadata.Brokers[0].NodeId % 2), metadata.Brokers[0].Rack);
            Assert.Contains(metadata.ControllerId, new[] { 1, 2, 3 });
        }

        // One cluster id, stored by the first broker, on every broker.
        Assert.Single(brokers.Brokers.Select(b => b.Core.ClusterId).Distinct());
    }

    [Fact]
    public async Task CreateTopics_with_replication_factor_3_places_three_replicas_and_a_leader_seen_by_every_broker()
    {
        await using var brokers = await StartBrokersAsync(3);
        foreach (var broker in brokers.Brokers)
        {
            await Eventually(broker, m => m.Brokers.Count == 3);
        }

        var created = await CreateTopicAsync(brokers.Brokers[1], "orders", partitions: 6, replicationFactor: 3);
        Assert.Equal(0, created.ErrorCode);
        Assert.Equal(3, created.ReplicationFactor);

        foreach (var broker in brokers.Brokers)
        {
            var metadata = await Eventually(broker, m => m.Topics.Any(t => t.Name == "orders" && t.Partitions.Count == 6 && t.Partitions.All(p => p.ErrorCode == 0)));
            var topic = metadata.Topics.Single(t => t.Name == "orders");
            Assert.Equal(created.TopicId, topic.TopicId);
            Assert.All(topic.Partitions, p =>
            {
                Assert.Equal([1, 2, 3], p.ReplicaNodes.Order());
                Assert.Equal(p.ReplicaNodes[0], p.LeaderId);
                Assert.Equal(p.ReplicaNodes.Order(), p.IsrNodes.Order());
                Assert.Empty(p.OfflineReplicas);
            });

            // Leadership is spread: every broker leads two of the six partitions.
            Assert.All(topic.Partitions.GroupBy(p => p.LeaderId), g => Assert.Equal(2, g.Count()));
        }

        // More replicas than live brokers: refused as Kafka does.
        var tooMany = await CreateTopicAsync(brokers.Brokers[0], "too-many", partitions: 1, replicationFactor: 4);
        Assert.Equal((short)ErrorCode.InvalidReplicationFactor, tooMany.ErrorCode);

        // The same name from another broker: the cluster has it.
        var again = await CreateTopicAsync(brokers.Brokers[2], "orders", partitions: 1, replicationFactor: 1);
        Assert.Equal((short)ErrorCode.TopicAlreadyExists, again.ErrorCode);
    }

    [Fact]
    public async Task A_stopped_leader_is_replaced_by_an_isr_member_at_a_higher_leader_epoch()
    {
        await using var brokers = await StartBrokersAsync(3);
        await Eventually(brokers.Brokers[0], m => m.Brokers.Count == 3);
        await CreateTopicAsync(brokers.Brokers[0], "payments", partitions: 3, replicationFactor: 3);
        var before = (await Eventually(brokers.Brokers[0], m => m.Topics.Any(t => t.Name == "payments"))).Topics.Single().Partitions;

        // Stop the broker that is not the controller and leads partition 0, so this tests the election alone.
        var victim = before.Single(p => p.PartitionIndex == 0).LeaderId;
        var controller = brokers.Brokers.Single(b => b.Core.Cluster!.IsController).Config.NodeId;
        if (victim == controller)
        {
            victim = before.First(p => p.LeaderId != controller).LeaderId;
        }

        await brokers.StopAsync(victim);
        var survivor = brokers.Brokers.First(b => b.Config.NodeId != victim);
        var after = (await Eventually(survivor, m => m.Brokers.Count == 2 && m.Topics.Single().Partitions.All(p => p.LeaderId != victim && !p.IsrNodes.Contains(victim)))).Topics.Single().Partitions;

        foreach (var p in after)
        {
            var old = before.Single(b => b.PartitionIndex == p.PartitionIndex);
            Assert.DoesNotContain(victim, p.IsrNodes);
            Assert.Contains(p.LeaderId, old.IsrNodes);
            Assert.Equal([victim], p.OfflineReplicas);
            Assert.Equal(old.LeaderId == victim ? old.LeaderEpoch + 1 : old.LeaderEpoch, p.LeaderEpoch);
        }
    }

    [Fact]
    public async Task When_the_controller_stops_another_broker_becomes_controller_and_elects_leaders()
    {
        await using var brokers = await StartBrokersAsync(3);
        var first = await Eventually(brokers.Brokers[0], m => m.Brokers.Count == 3 && m.ControllerId > 0);
        var controller = first.ControllerId;
        await CreateTopicAsync(brokers.Brokers[0], "audit", partitions: 3, replicationFactor: 2);

        await brokers.StopAsync(controller);
        var survivor = brokers.Brokers.First(b => b.Config.NodeId != controller);
        var metadata = await Eventually(survivor, m => m.ControllerId > 0 && m.ControllerId != controller
            && m.Topics.Single().Partitions.All(p => p.LeaderId != controller));

        Assert.Contains(metadata.ControllerId, brokers.Brokers.Select(b => b.Config.NodeId));
        Assert.True(brokers.Brokers.Single(b => b.Config.NodeId == metadata.ControllerId).Core.Cluster!.IsController);

        // A partition with both replicas gone... none here: every partition of factor 2 kept a live ISR member.
        Assert.All(metadata.Topics.Single().Partitions, p => Assert.NotEqual(-1, p.LeaderId));
    }

    [Fact]
    public async Task With_no_isr_member_live_a_partition_goes_offline_and_comes_back_with_its_replica()
    {
        // On disk: a broker restarted in memory lost its log, and would not lead again (ClusterNode.Incarnations.cs).
        await using var brokers = await StartBrokersAsync(2, onDisk: true);
        await Eventually(brokers.Brokers[0], m => m.Brokers.Count == 2);
        var replica = brokers.Brokers[1].Config.NodeId;
        var created = await CreateTopicAsync(brokers.Brokers[0], "single", [[replica]]);
        Assert.Equal(0, created.ErrorCode);
        await Eventually(brokers.Brokers[0], m => m.Topics.Any(t => t.Name == "single"));

        await brokers.StopAsync(replica);
        var offline = (await Eventually(brokers.Brokers[0], m => m.Topics.Single().Partitions.Single().LeaderId == -1)).Topics.Single().Partitions.Single();
        Assert.Equal((short)ErrorCode.LeaderNotAvailable, offline.ErrorCode);
        Assert.Equal([replica], offline.OfflineReplicas);

        // unclean.leader.election.enable is false: the last ISR member is kept, and leads again once back.
        Assert.Equal([replica], offline.IsrNodes);
        await brokers.RestartAsync(replica);
        var back = (await Eventually(brokers.Brokers[0], m => m.Topics.Single().Partitions.Single().LeaderId == replica)).Topics.Single().Partitions.Single();
        Assert.Equal(offline.LeaderEpoch + 1, back.LeaderEpoch);
    }

    [Fact]
    public async Task Produce_fetch_and_list_offsets_to_a_follower_answer_not_leader_with_the_current_leader()
    {
        await using var brokers = await StartBrokersAsync(2);
        await Eventually(brokers.Brokers[0], m => m.Brokers.Count == 2);
        var leader = brokers.Brokers[0];
        var follower = brokers.Brokers[1];
        await CreateTopicAsync(leader, "events", [[leader.Config.NodeId, follower.Config.NodeId]]);
        await Eventually(follower, m => m.Topics.Any(t => t.Name == "events"));

        await using var client = await KafkaWireClient.ConnectAsync(follower.BootstrapServers);
        var builder = new RecordBatchBuilder();
        builder.Add(1_700_000_000_000, null, "v"u8.ToArray(), null);
        var produce = await client.SendAsync<ProduceRequest, ProduceResponse>(ApiKey.Produce, 10, new ProduceRequest
        {
            Acks = 1,
            TimeoutMs = 5000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = "events", PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = builder.Build() }] }],
        });
        var produced = produce.Responses.Single().PartitionResponses.Single();
        Assert.Equal((short)ErrorCode.NotLeaderOrFollower, produced.ErrorCode);
        Assert.Equal(leader.Config.NodeId, produced.CurrentLeader.LeaderId);
        Assert.Equal(0, produced.CurrentLeader.LeaderEpoch);
        Assert.Equal(leader.Port, produce.NodeEndpoints.Single().Port);

        var fetch = await client.SendAsync<FetchRequest, FetchResponse>(ApiKey.Fetch, 16, new FetchRequest
        {
            MaxWaitMs = 0,
            MaxBytes = 1 << 20,
            Topics = [new FetchRequest.FetchTopic { TopicId = follower.Core.Metadata.Find("events")!.Id, Partitions = [new FetchRequest.FetchPartition { Partition = 0, PartitionMaxBytes = 1 << 20 }] }],
        });
        var fetched = fetch.Responses.Single().Partitions.Single();
        Assert.Equal((short)ErrorCode.NotLeaderOrFollower, fetched.ErrorCode);
        Assert.Equal(leader.Config.NodeId, fetched.CurrentLeader.LeaderId);
        Assert.Equal(leader.Config.NodeId, fetch.NodeEndpoints.Single().NodeId);

        var offsets = await client.SendAsync<ListOffsetsRequest, ListOffsetsResponse>(ApiKey.ListOffsets, 7, new ListOffsetsRequest
        {
            ReplicaId = -1,
            Topics = [new ListOffsetsRequest.ListOffsetsTopic { Name = "events", Partitions = [new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = 0, Timestamp = -1 }] }],
        });
        Assert.Equal((short)ErrorCode.NotLeaderOrFollower, offsets.Topics.Single().Partitions.Single().ErrorCode);

        // The leader takes the same produce, once it has applied its role (the topic reaches its replica manager
        // through the watch, like every other broker's).
        await WaitUntil(() => leader.Core.Replicas?.StateOf("events", 0)?.Leader == leader.Config.NodeId);
        await using var leaderClient = await KafkaWireClient.ConnectAsync(leader.BootstrapServers);
        var accepted = await leaderClient.SendAsync<ProduceRequest, ProduceResponse>(ApiKey.Produce, 10, new ProduceRequest
        {
            Acks = 1,
            TimeoutMs = 5000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = "events", PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = builder.Build() }] }],
        });
        Assert.Equal(0, accepted.Responses.Single().PartitionResponses.Single().ErrorCode);
    }

    [Fact]
    public async Task Two_brokers_racing_alter_isr_on_the_same_partition_epoch_exactly_one_wins()
    {
        await using var brokers = await StartBrokersAsync(3);
        await Eventually(brokers.Brokers[0], m => m.Brokers.Count == 3);
        await CreateTopicAsync(brokers.Brokers[0], "isr", partitions: 1, replicationFactor: 3);
        await Eventually(brokers.Brokers[2], m => m.Topics.Any(t => t.Name == "isr"));
        var a = brokers.Brokers[0].Core.Cluster!;
        var b = brokers.Brokers[1].Core.Cluster!;
        Assert.True(a.TryGetPartition("isr", 0, out var state));
        await WaitUntil(() => b.TryGetPartition("isr", 0, out var seen) && seen.PartitionEpoch == state.PartitionEpoch);

        var shrinkA = state.Isr.Where(r => r == state.Leader || r != state.Isr.First(i => i != state.Leader)).ToArray();
        var shrinkB = state.Isr.Where(r => r == state.Leader || r != state.Isr.Last(i => i != state.Leader)).ToArray();
        var results = await Task.WhenAll(a.AlterIsrAsync(state, shrinkA, CancellationToken.None), b.AlterIsrAsync(state, shrinkB, CancellationToken.None));

        Assert.Single(results, won => won);
        var winner = results[0] ? shrinkA : shrinkB;
        await WaitUntil(() => a.TryGetPartition("isr", 0, out var now) && now.PartitionEpoch > state.PartitionEpoch);
        Assert.True(a.TryGetPartition("isr", 0, out var written));
        Assert.Equal(state.LeaderEpoch, written.LeaderEpoch);

        // The winner's ISR, unless the leader, told of the shrink, has already taken the dropped follower (caught up)
        // back in at the next partition epoch.
        if (written.PartitionEpoch == state.PartitionEpoch + 1)
        {
            Assert.Equal(winner, written.Isr);
        }
        else
        {
            Assert.Equal(state.Isr.Order(), written.Isr.Order());
        }

        // The loser's state is stale now: asking again from it fails without writing.
        Assert.False(await b.AlterIsrAsync(state, state.Isr, CancellationToken.None));
    }

    [Fact]
    public async Task Etcd_unreachable_at_start_is_retried_then_a_clear_error()
    {
        var log = new CapturedLog();
        var options = new TributaryBrokerOptions { LoggerFactory = log.CreateFactory() };
        options.Config["tributary.metadata.etcd.endpoints"] = "http://127.0.0.1:" + EtcdCluster.FreePort().ToString(CultureInfo.InvariantCulture);
        options.Config["tributary.metadata.etcd.connect.timeout.ms"] = "1500";

        var error = await Assert.ThrowsAsync<ClusterUnavailableException>(() => TributaryBroker.StartAsync(options));

        Assert.Contains("did not answer within tributary.metadata.etcd.connect.timeout.ms=1500", error.Message, StringComparison.Ordinal);
        Assert.True(log.Count(950) >= 2, "each failed attempt is logged as a retry");
    }

    [Fact]
    public async Task A_dead_endpoint_in_the_etcd_list_does_not_keep_a_broker_from_joining()
    {
        var options = BrokerOptions(1, fixture.Etcd.Endpoints + ",http://127.0.0.1:" + EtcdCluster.FreePort().ToString(CultureInfo.InvariantCulture), "/test-" + Guid.NewGuid().ToString("N"));
        await using var broker = await TributaryBroker.StartAsync(options);
        var metadata = await Eventually(broker, m => m.Brokers.Count == 1 && m.ControllerId != -1);
        Assert.Equal(1, metadata.ControllerId);
    }

    [Fact]
    public async Task Broker_and_group_configs_altered_through_one_broker_apply_on_every_broker_and_survive_a_restart()
    {
        await using var brokers = await StartBrokersAsync(3, onDisk: true);
        await WaitUntil(() => brokers.Brokers.All(b => b.Core.Cluster!.LiveBrokers.Count == 3));
        var defaultRetentionMs = brokers.Brokers[0].Core.Config.LogRetentionMs;
        // The cluster default (an empty BROKER name, which librdkafka cannot send) and a group's configs, through broker 2.
        await AlterConfigAsync(brokers.Brokers[1], BrokerResource, "", "log.retention.ms", "123456");
        await AlterConfigAsync(brokers.Brokers[1], GroupResource, "payments", "consumer.session.timeout.ms", "50000");

        await WaitUntil(() => brokers.Brokers.All(b => b.Core.Config.LogRetentionMs == 123456
            && b.Core.Metadata.GroupConfigs("payments").GetValueOrDefault("consumer.session.timeout.ms") == "50000"));

        // What broker 3 describes of its own config and of the group, as a client asks it.
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = brokers.Brokers[2].BootstrapServers }).Build())
        {
            var described = await admin.DescribeConfigsAsync(
            [
                new ConfigResource { Type = ResourceType.Broker, Name = "3" },
                new ConfigResource { Type = ResourceType.Group, Name = "payments" },
            ]);
            Assert.Equal("123456", described.Single(r => r.ConfigResource.Type == ResourceType.Broker).Entries["log.retention.ms"].Value);
            Assert.Equal("50000", described.Single(r => r.ConfigResource.Type == ResourceType.Group).Entries["consumer.session.timeout.ms"].Value);
        }

        // Removed through broker 1 while broker 3 is down: broker 3 drops what its own store kept once it is back.
        await brokers.StopAsync(3);
        await AlterConfigAsync(brokers.Brokers[0], BrokerResource, "", "log.retention.ms", null);
        await AlterConfigAsync(brokers.Brokers[0], GroupResource, "payments", "consumer.session.timeout.ms", null);

        await brokers.RestartAsync(3);
        var restarted = brokers.Brokers.Single(b => b.Config.NodeId == 3);
        await WaitUntil(() => restarted.Core.Config.LogRetentionMs == defaultRetentionMs && !restarted.Core.Metadata.HasGroupConfigs("payments"));
        Assert.All(brokers.Brokers, b => Assert.Empty(b.Core.Metadata.BrokerConfigs("")));
    }

    [Fact]
    public async Task Client_quotas_altered_through_one_broker_apply_on_every_broker()
    {
        await using var brokers = await StartBrokersAsync(3);
        await WaitUntil(() => brokers.Brokers.All(b => b.Core.Cluster!.LiveBrokers.Count == 3));

        // Two changes through different brokers: both land, each broker holds both.
        await AlterQuotaAsync(brokers.Brokers[0], "alice", "producer_byte_rate", 1_048_576);
        await AlterQuotaAsync(brokers.Brokers[1], "bob", "consumer_byte_rate", 2_097_152);
        await WaitUntil(() => brokers.Brokers.All(b => b.Core.Metadata.ClientQuotas.Count == 2));

        // DescribeClientQuotas (v1, every entity) from broker 3, as a client asks it.
        await using (var client = await KafkaWireClient.ConnectAsync(brokers.Brokers[2].BootstrapServers))
        {
            var described = await client.SendAsync<DescribeClientQuotasRequest, DescribeClientQuotasResponse>(ApiKey.DescribeClientQuotas, 1, new DescribeClientQuotasRequest
            {
                Components = [new() { EntityType = "user", MatchType = 2, Match = null }],
            });
            Assert.Equal(0, described.ErrorCode);
            var quotas = described.Entries!.ToDictionary(e => e.Entity.Single().EntityName!, e => e.Values.Single());
            Assert.Equal(("producer_byte_rate", 1_048_576d), (quotas["alice"].Key, quotas["alice"].Value));
            Assert.Equal(("consumer_byte_rate", 2_097_152d), (quotas["bob"].Key, quotas["bob"].Value));
        }

        await AlterQuotaAsync(brokers.Brokers[2], "alice", "producer_byte_rate", null);
        await WaitUntil(() => brokers.Brokers.All(b => b.Core.Metadata.ClientQuotas.Count == 1));
    }

    [Fact]
    public async Task Configs_and_quotas_in_etcd_that_no_broker_would_accept_are_left_out_and_the_broker_keeps_serving()
    {
        await using var brokers = await StartBrokersAsync(1);
        var broker = brokers.Brokers[0];
        await AlterQuotaAsync(broker, "alice", "producer_byte_rate", 1_048_576);

        // Written past the brokers (by hand, or a newer release): a bad group value, an unknown and a static broker key,
        // client quotas that are not JSON.
        using var channel = EtcdEndpoints.Channel([.. fixture.Etcd.Endpoints.Split(',')]);
        var kv = new KV.KVClient(channel);
        var prefix = broker.Core.Config.EtcdPrefix;
        await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(prefix + "/configs/groups/payments"), Value = ByteString.CopyFromUtf8("""{"consumer.session.timeout.ms":"soon","consumer.heartbeat.interval.ms":"6000"}""") });
        await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(prefix + "/configs/brokers/<default>"), Value = ByteString.CopyFromUtf8("""{"no.such.key":"1","node.id":"7","log.retention.ms":"654321"}""") });
        await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(prefix + "/client_quotas"), Value = ByteString.CopyFromUtf8("not json") });

        await WaitUntil(() => broker.Core.Config.LogRetentionMs == 654321 && broker.Core.Metadata.HasGroupConfigs("payments"));
        Assert.Equal(new Dictionary<string, string> { ["consumer.heartbeat.interval.ms"] = "6000" }, broker.Core.Metadata.GroupConfigs("payments"));
        Assert.Equal(new Dictionary<string, string> { ["log.retention.ms"] = "654321" }, broker.Core.Metadata.BrokerConfigs(""));
        Assert.Equal(1, broker.Core.NodeId);
        Assert.Single(broker.Core.Metadata.ClientQuotas);

        // The group's valid config applies; the broker still answers (a Metadata round trip).
        await Eventually(broker, m => m.Brokers.Count == 1);
    }

    // AlterClientQuotas v1 of one user's key: set, or remove when value is null.
    private static async Task AlterQuotaAsync(TributaryBroker broker, string user, string key, double? value)
    {
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var response = await client.SendAsync<AlterClientQuotasRequest, AlterClientQuotasResponse>(ApiKey.AlterClientQuotas, 1, new AlterClientQuotasRequest
        {
            Entries = [new() { Entity = [new() { EntityType = "user", EntityName = user }], Ops = [new() { Key = key, Value = value ?? 0, Remove = value is null }] }],
        });
        Assert.Equal(0, response.Entries.Single().ErrorCode);
    }

    // IncrementalAlterConfigs v1 of one key: SET, or DELETE when value is null.
    private static async Task AlterConfigAsync(TributaryBroker broker, sbyte resourceType, string resourceName, string key, string? value)
    {
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var response = await client.SendAsync<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse>(ApiKey.IncrementalAlterConfigs, 1, new IncrementalAlterConfigsRequest
        {
            Resources = [new() { ResourceType = resourceType, ResourceName = resourceName, Configs = [new() { Name = key, ConfigOperation = (sbyte)(value is null ? 1 : 0), Value = value }] }],
        });
        Assert.Equal(0, response.Responses.Single().ErrorCode);
    }

    private async Task<ClusterBrokers> StartBrokersAsync(int count, bool onDisk = false)
    {
        var prefix = "/test-" + Guid.NewGuid().ToString("N");
        var root = onDisk ? Path.Combine(Path.GetTempPath(), "tributary-cluster" + prefix[1..]) : null;
        var brokers = new ClusterBrokers(id => BrokerOptions(id, fixture.Etcd.Endpoints, prefix, root), root);
        for (var id = 1; id <= count; id++)
        {
            await brokers.StartAsync(id);
        }

        return brokers;
    }

    private static TributaryBrokerOptions BrokerOptions(int nodeId, string endpoints, string prefix, string? root = null)
    {
        var options = root is null ? new TributaryBrokerOptions()
            : new TributaryBrokerOptions { InMemory = false, DataDirectory = Path.Combine(root, nodeId.ToString(CultureInfo.InvariantCulture)), KeepDataDirectory = true };
        options.Config["node.id"] = nodeId.ToString(CultureInfo.InvariantCulture);
        options.Config["broker.rack"] = "rack-" + (nodeId % 2).ToString(CultureInfo.InvariantCulture);
        options.Config["tributary.metadata.etcd.endpoints"] = endpoints;
        options.Config["tributary.metadata.etcd.prefix"] = prefix;
        options.Config["tributary.metadata.etcd.lease.ms"] = "2000";
        return options;
    }

    /// <summary>Brokers of one test's cluster, by node id (1…n); stopped ones can start again (on their data, under <paramref name="root"/> if given).</summary>
    private sealed class ClusterBrokers(Func<int, TributaryBrokerOptions> options, string? root) : IAsyncDisposable
    {
        private readonly SortedDictionary<int, TributaryBroker> _running = [];

        public IReadOnlyList<TributaryBroker> Brokers => [.. _running.Values];

        public async Task StartAsync(int nodeId) => _running[nodeId] = await TributaryBroker.StartAsync(options(nodeId));

        public async Task StopAsync(int nodeId)
        {
            await _running[nodeId].DisposeAsync();
            _running.Remove(nodeId);
        }

        public Task RestartAsync(int nodeId) => StartAsync(nodeId);

        public async ValueTask DisposeAsync()
        {
            foreach (var broker in _running.Values)
            {
                await broker.DisposeAsync();
            }

            if (root is not null && Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    private static Task<CreateTopicsResponse.CreatableTopicResult> CreateTopicAsync(TributaryBroker broker, string name, int partitions, short replicationFactor) =>
        CreateTopicAsync(broker, new CreateTopicsRequest.CreatableTopic { Name = name, NumPartitions = partitions, ReplicationFactor = replicationFactor });

    private static Task<CreateTopicsResponse.CreatableTopicResult> CreateTopicAsync(TributaryBroker broker, string name, int[][] replicas) =>
        CreateTopicAsync(broker, new CreateTopicsRequest.CreatableTopic
        {
            Name = name,
            NumPartitions = -1,
            ReplicationFactor = -1,
            Assignments = [.. replicas.Select((r, i) => new CreateTopicsRequest.CreatableReplicaAssignment { PartitionIndex = i, BrokerIds = [.. r] })],
        });

    private static async Task<CreateTopicsResponse.CreatableTopicResult> CreateTopicAsync(TributaryBroker broker, CreateTopicsRequest.CreatableTopic topic)
    {
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var response = await client.SendAsync<CreateTopicsRequest, CreateTopicsResponse>(ApiKey.CreateTopics, 7, new CreateTopicsRequest { TimeoutMs = 10_000, Topics = [topic] });
        return response.Topics.Single();
    }

    // Metadata (v12, every topic) from the broker until it shows what the test waits for.
    private static async Task<MetadataResponse> Eventually(TributaryBroker broker, Func<MetadataResponse, bool> condition)
    {
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var deadline = DateTime.UtcNow + WaitMax;
        while (true)
        {
            var metadata = await client.SendAsync<MetadataRequest, MetadataResponse>(ApiKey.Metadata, 12, new MetadataRequest { Topics = null });
            metadata.Topics.RemoveAll(t => t.Name!.StartsWith("__", StringComparison.Ordinal));
            if (condition(metadata))
            {
                return metadata;
            }

            Assert.True(DateTime.UtcNow < deadline, $"broker {broker.Config.NodeId} never showed the expected metadata");
            await Task.Delay(50);
        }
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + WaitMax;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition never held");
            await Task.Delay(20);
        }
    }
}
