using Microsoft.Extensions.Logging;
using Tributary.Broker.Cluster;
using Tributary.Broker.Groups;
using Tributary.Broker.InternalTopics;
using Tributary.Broker.Metadata;
using Tributary.Broker.Security;
using Tributary.Broker.ShareGroups;
using Tributary.Broker.Transactions;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker;

// Cluster mode (tributary.metadata.etcd.endpoints set): topic changes go to etcd and come back as a mirror in the
// local metadata store, so the partition logs and every handler that looks a topic up work as on a single node.
// Internal topics (names starting with "__") stay local to each broker, except the coordinators' topics
// (__consumer_offsets, __transaction_state, __share_group_state), whose coordinator runs on the leader of their
// partition and moves with it.
public sealed partial class BrokerCore
{
    /// <summary>This broker's membership of an etcd cluster; null on a single node, where no cluster code runs.</summary>
    public ClusterNode? Cluster { get; private set; }

    /// <summary>Cluster mode: sends WriteTxnMarkers to another broker (the transaction coordinator ending a transaction on partitions it does not lead).</summary>
    public Func<ClusterBroker, WriteTxnMarkersRequest, CancellationToken, Task<WriteTxnMarkersResponse>>? TxnMarkerSender { get; set; }

    /// <summary>Cluster mode: requests to another broker (a share partition's leader calling the share coordinator).</summary>
    public IInterBrokerClient? InterBrokerClient { get; set; }

    /// <summary>
    /// Cluster mode, when the inter-broker listener is TLS: completes the handshake over a connected stream to a peer at
    /// the host (the listener's truststore and keystore, as the fetchers'), for crash detection's idle connection. Set
    /// before <see cref="JoinClusterAsync"/>.
    /// </summary>
    public Func<Stream, string, CancellationToken, Task<Stream>>? InterBrokerTls { get; set; }

    /// <summary>The cluster's id: the one in etcd in cluster mode, else the local metadata's.</summary>
    public string ClusterId => Cluster?.ClusterId ?? Metadata.ClusterId;

    /// <summary>Joins the cluster of the configuration's etcd endpoints; the listeners must be bound (they are registered).</summary>
    public async Task<ClusterNode> JoinClusterAsync(IReplicaRoleSink? sink, CancellationToken cancellationToken)
    {
        var node = await ClusterNode.StartAsync(this, sink, cancellationToken).ConfigureAwait(false);
        Cluster = node;
        Authorizer.UseCluster(node);
        Transactions.UseClusterProducerIds(new ProducerIdBlocks(
            ct => node.ReserveProducerIdBlockAsync(ProducerIdBlocks.BlockSize, ct), LoggerFactory.CreateLogger<ProducerIdBlocks>()));
        return node;
    }

    /// <summary>
    /// A user's SCRAM credential for a mechanism: in cluster mode the cluster's (in etcd, read from the cache); on a
    /// single node, and for a user and mechanism the cluster has none of, the local metadata store's (where the
    /// embedded broker's configured users are).
    /// </summary>
    public ScramCredential? FindScramCredential(string user, string mechanism) =>
        Cluster?.FindScramCredential(user, mechanism) ?? Metadata.FindScramCredential(user, mechanism);

    /// <summary>The users DescribeUserScramCredentials lists and AlterUserScramCredentials changes: the cluster's in cluster mode, else the local store's.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> ScramUsers() => Cluster?.ScramUsers() ?? Metadata.ScramUsers();

    /// <summary>
    /// Stores and deletes SCRAM credentials (null deletes) all at once: in etcd in cluster mode (at most
    /// <see cref="ClusterNode.ScramUsersPerChangeMax"/> users; <see cref="ClusterTimeoutException"/> when etcd does not
    /// commit), else in the local store's durable snapshot.
    /// </summary>
    public void AlterScramCredentials(IReadOnlyList<(string User, string Mechanism, ScramCredential? Credential)> changes, CancellationToken cancellationToken = default)
    {
        if (Cluster is { } cluster)
        {
            cluster.AlterScramCredentialsAsync(changes, cancellationToken).GetAwaiter().GetResult();
            return;
        }

        Metadata.AlterScramCredentials(changes);
    }

    /// <summary>Topics kept on each broker alone, never in etcd: internal ones, except the coordinators' topics.</summary>
    public static bool IsLocalOnly(string topic) => topic.StartsWith("__", StringComparison.Ordinal) && !IsCoordinatorTopic(topic);

    /// <summary>Internal topics that are cluster topics in cluster mode: their coordinator lives on their leader.</summary>
    public static bool IsCoordinatorTopic(string topic) => topic is OffsetsTopicStore.TopicName or TransactionStateStore.TopicName or ShareStateTopic.TopicName;

    /// <summary>
    /// The partitions of a coordinator topic: the count it was created with (in the cluster metadata, or the local
    /// metadata on a single node), which stays fixed; for a topic not created yet, the configured count it will get
    /// (offsets.topic.num.partitions, transaction.state.log.num.partitions, share.coordinator.state.topic.num.partitions).
    /// </summary>
    public int CoordinatorPartitionCount(string topic) =>
        (Config.ClusterMode ? Cluster?.PartitionCountOf(topic) : null) ?? Metadata.Find(topic)?.PartitionCount ?? topic switch
        {
            OffsetsTopicStore.TopicName => OrModeDefault(Config.OffsetsTopicNumPartitions),
            TransactionStateStore.TopicName => OrModeDefault(Config.TransactionStateLogNumPartitions),
            ShareStateTopic.TopicName => OrModeDefault(Config.ShareCoordinatorStateTopicNumPartitions),
            _ => 1,
        };

    /// <summary>Kafka's default partition count of its coordinator topics.</summary>
    private const int CoordinatorPartitionsKafkaDefault = 50;

    // -1: Kafka's 50 in cluster mode, where the partitions spread the coordinators over the brokers; one on a single
    // node, which coordinates every partition itself, and where 50 logs per topic made a restart noticeably slower
    // (bench/coordinator-partitions-startup.sh).
    private int OrModeDefault(int configured) => configured > 0 ? configured : Config.ClusterMode ? CoordinatorPartitionsKafkaDefault : 1;

    /// <summary>The partition of the coordinator topic that holds <paramref name="key"/> (a group id, a transactional id, a share partition's "group:topicId:partition").</summary>
    public int CoordinatorPartitionFor(string topic, string key) => CoordinatorPartitioner.PartitionFor(key, CoordinatorPartitionCount(topic));

    /// <summary>
    /// Cluster mode: the broker that leads the partition of a coordinator topic that holds <paramref name="key"/>,
    /// which coordinates it. The first broker that asks creates the topic in etcd with the configured partitions and
    /// <paramref name="replicationFactor"/> replicas; as Kafka, COORDINATOR_NOT_AVAILABLE while fewer brokers are live,
    /// while the topic is created and while the partition has no live leader.
    /// </summary>
    public (ErrorCode Error, int Leader) CoordinatorNode(string topic, string key, int replicationFactor, IReadOnlyDictionary<string, string> configs)
    {
        var cluster = Cluster!;
        if (!cluster.HasTopic(topic))
        {
            if (cluster.LiveBrokers.Count < replicationFactor)
            {
                return (ErrorCode.CoordinatorNotAvailable, -1);
            }

            try
            {
                var all = new Dictionary<string, string>(InternalTopicConfigs);
                foreach (var (k, value) in configs)
                {
                    all[k] = value;
                }

                CreateClusterTopic(topic, CoordinatorPartitionCount(topic), all, replicationFactor, null, CancellationToken.None);
            }
            catch (Exception e) when (IsStorageFailure(e))
            {
                LogCoordinatorTopicFailed(_logger, e, topic);
                return (ErrorCode.CoordinatorNotAvailable, -1);
            }
        }

        return cluster.TryGetPartition(topic, CoordinatorPartitionFor(topic, key), out var state) && state.Leader >= 0 && cluster.IsLive(state.Leader)
            ? (ErrorCode.None, state.Leader)
            : (ErrorCode.CoordinatorNotAvailable, -1);
    }

    /// <summary>
    /// The role sink the cluster node tells: <paramref name="replicas"/> first, then the coordinators of the partitions
    /// this broker now leads (they load their state) or no longer leads (they drop it).
    /// </summary>
    public IReplicaRoleSink CoordinatorsFollow(IReplicaRoleSink replicas) => new CoordinatorRoleSink(this, replicas);

    private sealed class CoordinatorRoleSink(BrokerCore core, IReplicaRoleSink replicas) : IReplicaRoleSink
    {
        public async Task ApplyAsync(PartitionState state, CancellationToken cancellationToken)
        {
            await replicas.ApplyAsync(state, cancellationToken).ConfigureAwait(false);
            if (IsCoordinatorTopic(state.Topic))
            {
                core.OnCoordinatorRole(state.Topic, state.Partition, state.Leader == core.NodeId, state.LeaderEpoch);
            }

            if (state.Leader != core.NodeId)
            {
                core.ShareGroups.Unload(state.Topic, state.Partition);
            }
        }

        public async Task RemoveAsync(string topic, int partition, CancellationToken cancellationToken)
        {
            await replicas.RemoveAsync(topic, partition, cancellationToken).ConfigureAwait(false);
            if (IsCoordinatorTopic(topic))
            {
                core.OnCoordinatorRole(topic, partition, leads: false, leaderEpoch: -1);
            }

            core.ShareGroups.Unload(topic, partition);
        }
    }

    /// <summary>Kafka's offsets.commit.timeout.ms default: how long a coordinator write waits for its ISR.</summary>
    private const int CoordinatorWriteTimeoutMs = 5000;

    /// <summary>
    /// Cluster mode: waits until the ISR of the coordinator topic's partition has everything this leader appended to
    /// it so far, as Kafka's coordinators write with acks=all. Errors as Kafka maps them for coordinators: leadership
    /// lost is NOT_COORDINATOR, too few in-sync replicas COORDINATOR_NOT_AVAILABLE, the wait's end REQUEST_TIMED_OUT.
    /// </summary>
    public async Task<ErrorCode> ReplicateCoordinatorWriteAsync(string topic, int partition)
    {
        if (Replicas is not { } replicas)
        {
            return ErrorCode.None;
        }

        if (Metadata.Find(topic) is not { } info || FindLog(info, partition) is not { } log)
        {
            return ErrorCode.NotCoordinator;
        }

        if (log.LogEndOffset == 0)
        {
            return ErrorCode.None;
        }

        var error = await replicas.WaitForReplicationAsync(topic, partition, log.LogEndOffset - 1, SettingsFor(info).MinInsyncReplicas, CoordinatorWriteTimeoutMs).ConfigureAwait(false);
        return error switch
        {
            ErrorCode.None or ErrorCode.RequestTimedOut => error,
            ErrorCode.NotEnoughReplicas or ErrorCode.NotEnoughReplicasAfterAppend => ErrorCode.CoordinatorNotAvailable,
            _ => ErrorCode.NotCoordinator,
        };
    }

    private void OnCoordinatorRole(string topic, int partition, bool leads, int leaderEpoch)
    {
        switch (topic, leads)
        {
            case (OffsetsTopicStore.TopicName, true):
                Groups.BecomeCoordinator(partition);
                break;
            case (OffsetsTopicStore.TopicName, false):
                Groups.Resign(partition);
                break;
            case (TransactionStateStore.TopicName, true):
                Transactions.BecomeCoordinator(partition, leaderEpoch);
                break;
            case (TransactionStateStore.TopicName, false):
                Transactions.Resign(partition);
                break;
            case (ShareStateTopic.TopicName, true):
                ShareCoordinator.BecomeCoordinator(partition);
                break;
            case (ShareStateTopic.TopicName, false):
                ShareCoordinator.Resign(partition);
                break;
        }
    }

    /// <summary>Makes the local metadata hold <paramref name="topic"/> as the cluster does, opening the logs of its partitions.</summary>
    internal void MirrorClusterTopic(ClusterTopic topic)
    {
        lock (_topicLock)
        {
            var local = Metadata.Find(topic.Name);
            if (local is not null && local.Id != topic.Id)
            {
                // Deleted and created again while this broker did not watch: the old partitions' records go.
                Metadata.Delete(local.Name);
                RemovePartitions(local.Name, 0, local.PartitionCount);
                local = null;
            }

            if (local is null)
            {
                var (created, _) = Metadata.Create(topic.Name, topic.PartitionCount, topic.Configs, topic.Id);
                OpenMirroredPartitions(created, 0);
                return;
            }

            var sameConfigs = local.Configs.Count == topic.Configs.Count && local.Configs.All(c => topic.Configs.TryGetValue(c.Key, out var v) && v == c.Value);
            if (local.PartitionCount >= topic.PartitionCount && sameConfigs)
            {
                return;
            }

            var updated = Metadata.Update(local with { PartitionCount = Math.Max(local.PartitionCount, topic.PartitionCount), Configs = topic.Configs });
            var logConfig = LogConfigFor(updated);
            for (var p = 0; p < local.PartitionCount; p++)
            {
                Logs.UpdateConfig(updated.Name, p, logConfig);
            }

            OpenMirroredPartitions(updated, local.PartitionCount);
        }
    }

    internal void MirrorClusterTopicDeleted(string name, Guid id)
    {
        lock (_topicLock)
        {
            if (Metadata.Find(name) is { } local && local.Id == id)
            {
                Metadata.Delete(name);
                RemovePartitions(name, 0, local.PartitionCount);
            }
        }
    }

    /// <summary>After the first read of the cluster: local topics the cluster no longer has (deleted while this broker was down) go.</summary>
    internal void MirrorClusterLoaded(IReadOnlySet<string> clusterTopics)
    {
        foreach (var topic in Metadata.Topics.Where(t => !IsLocalOnly(t.Name) && !clusterTopics.Contains(t.Name)).ToList())
        {
            MirrorClusterTopicDeleted(topic.Name, topic.Id);
        }
    }

    // New partitions of a mirrored topic get no log here: a broker holds logs only for the partitions it is a replica
    // of, created when it is told its role (FindLog, HostsReplica). Files a deleted topic of the same name left (its
    // deletion was refused part way) are removed, so such a log starts empty; one that cannot be is logged and stays.
    private void OpenMirroredPartitions(TopicInfo topic, int from) => RemovePartitions(topic.Name, from, topic.PartitionCount, removeAtOnce: true);

    /// <summary>
    /// Whether this broker keeps a log for the partition: always on a single node and for topics local to each broker;
    /// in cluster mode only when the cluster metadata this broker holds names it a replica of the partition of this
    /// topic (same topic id). False before the first read of the cluster, so nothing is created from a cache not loaded.
    /// </summary>
    public bool HostsReplica(TopicInfo topic, int partition) =>
        !Config.ClusterMode || IsLocalOnly(topic.Name)
        || (Cluster is { } cluster && cluster.TryGetPartition(topic.Name, partition, out var state) && state.TopicId == topic.Id && state.Replicas.Contains(NodeId));

    /// <summary>
    /// Cluster mode: the partition's state in etcd no longer names this broker (a reassignment removed it, or it was
    /// never a replica and a log was left here), so its log is closed and deleted, as Kafka's StopReplica with delete.
    /// The caller has stopped the replica (its fetcher) first. Decided under the topic lock from the state
    /// <paramref name="cluster"/> holds now, so a state that named this broker again meanwhile (its log opened anew)
    /// keeps it. A log of another topic of the same name is left to the topic's mirror. A deletion the disk refuses is
    /// logged; the files go at the next start.
    /// </summary>
    internal void RemoveReplicaLog(ClusterNode cluster, string topic, int partition)
    {
        lock (_topicLock)
        {
            if (!cluster.TryGetPartition(topic, partition, out var state) || state.Replicas.Contains(NodeId)
                || Metadata.Find(topic) is not { } local || local.Id != state.TopicId
                || (!Logs.TryGet(topic, partition, out _) && !Logs.IsOffline(topic, partition)))
            {
                return;
            }

            try
            {
                Logs.Delete(state.Topic, state.Partition);
                LogReplicaLogDeleted(_logger, state.Topic, state.Partition, string.Join(',', state.Replicas));
            }
            catch (Exception e) when (IsStorageFailure(e))
            {
                LogReplicaLogDeleteFailed(_logger, e, state.Topic, state.Partition);
            }
        }
    }

    private (TopicInfo Topic, bool Created) CreateClusterTopic(string name, int partitions, IReadOnlyDictionary<string, string> configs, int replicationFactor, int[][]? replicas,
        CancellationToken cancellationToken)
    {
        var cluster = Cluster!;
        var factor = replicationFactor == -1 ? Config.DefaultReplicationFactor : replicationFactor;
        if (replicas is null && factor > cluster.LiveBrokers.Count)
        {
            throw new ClusterUnavailableException($"replication factor {factor} is larger than the {cluster.LiveBrokers.Count} live brokers");
        }

        var (topic, created) = cluster.CreateTopicAsync(name, partitions, configs, factor, replicas, cancellationToken).GetAwaiter().GetResult();
        lock (_topicLock)
        {
            MirrorClusterTopic(topic);
            return (Metadata.Find(topic.Name)!, created);
        }
    }

    /// <summary>CreateTopics with replicas given per partition (cluster mode).</summary>
    public (TopicInfo Topic, bool Created) CreateTopic(string name, int[][] replicas, IReadOnlyDictionary<string, string> configs, CancellationToken cancellationToken = default) =>
        CreateClusterTopic(name, replicas.Length, configs, replicas[0].Length, replicas, cancellationToken);

    private bool DeleteClusterTopic(string name, CancellationToken cancellationToken)
    {
        var removed = Cluster!.DeleteTopicAsync(name, cancellationToken).GetAwaiter().GetResult();
        if (removed is null)
        {
            return false;
        }

        MirrorClusterTopicDeleted(removed.Name, removed.Id);
        return true;
    }

    private TopicInfo AddClusterPartitions(TopicInfo topic, int newCount, CancellationToken cancellationToken)
    {
        var updated = Cluster!.AddPartitionsAsync(topic.Name, newCount, cancellationToken).GetAwaiter().GetResult();
        MirrorClusterTopic(updated);
        return Metadata.Find(topic.Name)!;
    }

    private TopicInfo UpdateClusterTopicConfigs(TopicInfo topic, IReadOnlyDictionary<string, string> configs, CancellationToken cancellationToken)
    {
        var updated = Cluster!.UpdateTopicConfigsAsync(topic.Name, configs, cancellationToken).GetAwaiter().GetResult();
        MirrorClusterTopic(updated);
        return Metadata.Find(topic.Name)!;
    }

    [LoggerMessage(EventId = 1180, Level = LogLevel.Information, Message = "{Topic}-{Partition}: this broker is not one of its replicas [{Replicas}]; its log here is deleted")]
    private static partial void LogReplicaLogDeleted(ILogger logger, string topic, int partition, string replicas);

    [LoggerMessage(EventId = 1181, Level = LogLevel.Warning, Message = "{Topic}-{Partition}: could not delete the log of a replica this broker no longer hosts; its files stay until the next start")]
    private static partial void LogReplicaLogDeleteFailed(ILogger logger, Exception exception, string topic, int partition);

    [LoggerMessage(EventId = 1545, Level = LogLevel.Warning, Message = "Could not create the coordinator topic {Topic} in the cluster; FindCoordinator answers COORDINATOR_NOT_AVAILABLE")]
    private static partial void LogCoordinatorTopicFailed(ILogger logger, Exception exception, string topic);
}
