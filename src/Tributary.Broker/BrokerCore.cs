using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker.Config;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Groups;
using Tributary.Broker.Handlers;
using Tributary.Broker.Metadata;
using Tributary.Broker.Quotas;
using Tributary.Broker.Security;
using Tributary.Broker.Security.Authorization;
using Tributary.Broker.ShareGroups;
using Tributary.Broker.Transactions;
using Tributary.Protocol;
using Tributary.Storage;
using Tributary.Storage.Devices;

namespace Tributary.Broker;

/// <summary>
/// The single-node broker's domain state, without sockets: configuration, the metadata store, the partition
/// logs and the waiters of long-polling fetches. Handlers reach everything through this type.
/// </summary>
public sealed partial class BrokerCore : IDisposable
{
    private readonly Lock _topicLock = new();

    /// <param name="device">
    /// The files of an on-disk broker (metadata and logs); the real file system by default. Tests pass one that fails
    /// on demand.
    /// </param>
    public BrokerCore(BrokerConfig config, TimeProvider? time = null, ILoggerFactory? loggerFactory = null, ILogDevice? device = null)
    {
        _config = config;
        Time = time ?? TimeProvider.System;
        LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = LoggerFactory.CreateLogger<BrokerCore>();
        DecompressionScratch = new ByteBudget(config.DecompressionMemoryBytes);
        FetchSessions = new FetchSessionCache(config.FetchSessionCacheSlots, Time);
        var defaultLogConfig = config.TopicDefaults.Log;
        if (config.InMemoryStorage)
        {
            Metadata = new MetadataStore(null);
            Logs = LogManager.InMemory(defaultLogConfig, Time, LoggerFactory);
        }
        else
        {
            var dir = Path.GetFullPath(config.LogDir);
            PrivateFiles.CreateDirectory(dir);
            _directoryLock = DataDirectoryLock.Acquire(dir);
            try
            {
                var dropAfterRead = config.LogCacheDropAfterRead ?? HostMemory.ReportsFreedMemory();
                var reason = config.LogCacheDropAfterRead is not null ? "set"
                    : dropAfterRead ? "auto: the host takes back freed memory" : "auto: the host keeps no freed memory";
                LogCacheDrop(_logger, dropAfterRead ? "on" : "off", reason);
                var softLimit = OpenFileLimit.SoftLimit();
                var openFilesMax = config.LogOpenFilesMax > 0 ? config.LogOpenFilesMax : OpenFileLimit.DefaultLogFilesMax(softLimit);
                LogOpenFiles(_logger, openFilesMax, config.LogOpenFilesMax > 0 ? "set" : "auto", softLimit ?? -1);
                device ??= new FileLogDevice(config.LogCacheDropBehindBytes, dropAfterRead, openFilesMax);
                DataDevice = device;
                DataDirectory = dir;
                Metadata = new MetadataStore(dir, device);
                Logs = new LogManager(device, dir, defaultLogConfig, Time, LoggerFactory);
            }
            catch
            {
                _directoryLock.Dispose();
                throw;
            }
        }

        try
        {
            // Dynamic broker configs stored by an earlier run apply before any topic's settings are resolved.
            Config = WithStoredDynamicConfigs(config);

            // Partitions of topics the metadata knows but whose directories are missing (a crash between the
            // metadata write and the first append) are created empty. One that cannot be opened is offline. In
            // cluster mode a cluster topic's missing partitions are not: this broker creates only the logs of the
            // partitions etcd names it a replica of, once it is told (HostsReplica).
            foreach (var topic in Metadata.Topics)
            {
                OpenPartitionsAtStart(topic);
            }

            if (Metadata.Loaded)
            {
                RemoveStrayLogs();
            }

            Quotas = new ClientQuotaManager(Metadata, Time, Config.QuotaWindowNum, Config.QuotaWindowSizeSeconds * 1000L,
                Config.ControllerQuotaWindowNum, Config.ControllerQuotaWindowSizeSeconds * 1000L);
            Authorizer = new Authorizer(Metadata, () => Config);

            // Last: the coordinator reloads groups and offsets from __consumer_offsets, which needs the logs open.
            Groups = new GroupCoordinator(this);

            // After the groups: completing a transaction found half-done at start may commit offsets.
            Transactions = new TransactionCoordinator(this, config.InMemoryStorage ? null : Path.GetFullPath(config.LogDir), device);

            // The share coordinator loads __share_group_state (a single node's; in cluster mode once it leads it), and
            // share groups take their share partitions' state from it.
            ShareCoordinator = new ShareCoordinator(this);
            ShareGroups = new ShareGroupCoordinator(this);
        }
        catch
        {
            // A start that fails part way (a coordinator could not read its state) lets go of what it holds, so the
            // directory can be opened again.
            ReleaseAfterFailedStart();
            throw;
        }
    }

    /// <summary>Held while the data directory is open (null in memory): a second broker on it fails at start.</summary>
    private readonly DataDirectoryLock? _directoryLock;

    /// <summary>The data directory (null in memory) and the device its files are written through.</summary>
    internal string? DataDirectory { get; }

    internal ILogDevice? DataDevice { get; }

    private readonly ILogger _logger;

    /// <summary>
    /// The configuration in force: the static one the broker started with and the dynamic broker configs (replaced
    /// whole by <see cref="UpdateBrokerConfigs"/>).
    /// </summary>
    public BrokerConfig Config { get => Volatile.Read(ref _config); private set => Volatile.Write(ref _config, value); }

    private BrokerConfig _config;

    /// <summary>Scratch bytes produce requests hold while they decompress batches to check them (tributary.decompression.memory.bytes).</summary>
    public ByteBudget DecompressionScratch { get; }

    public TimeProvider Time { get; }

    /// <summary>Incremental fetch sessions (KIP-227), max.incremental.fetch.session.cache.slots of them.</summary>
    public FetchSessionCache FetchSessions { get; }

    public ILoggerFactory LoggerFactory { get; }

    public MetadataStore Metadata { get; }

    public LogManager Logs { get; }

    /// <summary>Client quotas (AlterClientQuotas) and each client's usage of them.</summary>
    public ClientQuotaManager Quotas { get; }

    public GroupCoordinator Groups { get; }

    /// <summary>Error codes answered per API (the errors metric).</summary>
    public RequestErrorCounts RequestErrors { get; } = new();

    /// <summary>ACLs and the decisions every handler asks for (authorizer.class.name; none: everything allowed).</summary>
    public Authorizer Authorizer { get; }

    public TransactionCoordinator Transactions { get; }

    public ShareGroupCoordinator ShareGroups { get; }

    /// <summary>The share coordinator: the durable share-partition states of __share_group_state.</summary>
    public ShareCoordinator ShareCoordinator { get; }

    public int NodeId => Config.NodeId;

    /// <summary>
    /// Replication between brokers, set when the broker joins a cluster; null on a single node, whose produce and fetch
    /// paths then run no replication code.
    /// </summary>
    public Cluster.ReplicaManager? Replicas { get; set; }

    /// <summary>Host and port clients are told to connect to (set once the listener is bound).</summary>
    public string AdvertisedHost { get; set; } = "127.0.0.1";

    public int AdvertisedPort { get; set; } = 9092;

    /// <summary>
    /// Per listener name, the address its clients are told (set once the listeners are bound): Metadata,
    /// FindCoordinator and DescribeCluster answer each client with its own listener's address, as Kafka does.
    /// </summary>
    public IReadOnlyDictionary<string, (string Host, int Port)> AdvertisedListeners { get; set; } = new Dictionary<string, (string Host, int Port)>();

    /// <summary>The address advertised to a client of <paramref name="listener"/>; a listener without its own gets the default one.</summary>
    public (string Host, int Port) AdvertisedFor(string listener) =>
        AdvertisedListeners.TryGetValue(listener, out var address) ? address : (AdvertisedHost, AdvertisedPort);

    /// <summary>How a listener authenticates its connections, from the configuration and the stored SCRAM credentials (<see cref="FindScramCredential"/>).</summary>
    public ListenerSecurity ListenerSecurity(string listener)
    {
        var config = Config;
        var security = new ListenerSecurity(listener, config.SecurityProtocolOf(listener), config.SaslMechanismsFor(listener), config.PlainUsersFor(listener),
            FindScramCredential, TimeSpan.FromMilliseconds(config.ConnectionFailedAuthenticationDelayMs), config.SaslServerMaxReceiveSize, Time)
        {
            ConnectionsMaxReauthMs = mechanism => config.ConnectionsMaxReauthMsFor(listener, mechanism),
        };
        if (!security.UsesSasl || !security.Mechanisms.Contains(SaslMechanisms.OAuthBearer))
        {
            return security;
        }

        // The configuration was checked when parsed; this fails only if the JWKS file went away since.
        var (validator, error) = OAuthBearerConfig.ValidatorFor(config, listener, Time);
        return security with { OAuthBearer = validator ?? throw new InvalidOperationException(error) };
    }

    public long NowMs => Time.GetUtcNow().ToUnixTimeMilliseconds();

    public LogConfig LogConfigFor(TopicInfo topic) => SettingsFor(topic).Log;

    /// <summary>
    /// A topic's typed settings. Resolved once per <see cref="TopicInfo"/> (replaced whenever the topic's configs
    /// change) and broker config (replaced whenever a dynamic broker config changes), so no request parses strings.
    /// </summary>
    public TopicSettings SettingsFor(TopicInfo topic)
    {
        var config = Config;
        var cached = _settings.GetValue(topic, t => new ResolvedSettings(config, TopicSettings.Resolve(t.Configs, config)));
        if (ReferenceEquals(cached.Config, config))
        {
            return cached.Settings;
        }

        var fresh = new ResolvedSettings(config, TopicSettings.Resolve(topic.Configs, config));
        _settings.AddOrUpdate(topic, fresh);
        return fresh.Settings;
    }

    private readonly ConditionalWeakTable<TopicInfo, ResolvedSettings> _settings = [];

    private sealed record ResolvedSettings(BrokerConfig Config, TopicSettings Settings);

    /// <summary>The BROKER resource name this broker's own dynamic configs are stored under: its node id.</summary>
    public string BrokerResourceName => NodeId.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Replaces the dynamic configs of a BROKER resource ("" for the cluster default, else this broker's id) with
    /// <paramref name="configs"/>, durably, then applies them: the broker config is bound again and every partition
    /// takes its topic's newly inherited log settings. The values must be valid dynamic broker keys.
    /// </summary>
    public void UpdateBrokerConfigs(string resourceName, IReadOnlyDictionary<string, string> configs)
    {
        if (Cluster is not null)
        {
            // Cluster mode: etcd holds them; every broker (this one too) applies them from its watch.
            using var wait = Broker.Cluster.ClusterNode.ChangeTimeout(0, CancellationToken.None);
            Cluster.SetBrokerConfigsAsync(resourceName, configs, wait.Token).GetAwaiter().GetResult();
        }

        MirrorClusterBrokerConfigs(resourceName, configs);
    }

    /// <summary>Replaces a group's configs: in cluster mode in etcd (every broker applies them), else locally.</summary>
    public void UpdateGroupConfigs(string groupId, IReadOnlyDictionary<string, string> configs)
    {
        if (Cluster is not null)
        {
            using var wait = Broker.Cluster.ClusterNode.ChangeTimeout(0, CancellationToken.None);
            Cluster.SetGroupConfigsAsync(groupId, configs, wait.Token).GetAwaiter().GetResult();
        }

        Metadata.SetGroupConfigs(groupId, configs);
    }

    /// <summary>Stores a BROKER resource's dynamic configs locally and applies them (the watch's part in cluster mode).</summary>
    internal void MirrorClusterBrokerConfigs(string resourceName, IReadOnlyDictionary<string, string> configs)
    {
        lock (_topicLock)
        {
            Metadata.SetBrokerConfigs(resourceName, configs);
            Config = WithStoredDynamicConfigs(Config);
            foreach (var topic in Metadata.Topics)
            {
                var logConfig = LogConfigFor(topic);
                for (var p = 0; p < topic.PartitionCount; p++)
                {
                    Logs.UpdateConfig(topic.Name, p, logConfig);
                }
            }
        }
    }

    // A stored value that is no longer a valid dynamic key (a newer release's, edited by hand) is left out, as
    // Kafka skips invalid dynamic configs at start rather than refusing to start.
    private BrokerConfig WithStoredDynamicConfigs(BrokerConfig config)
    {
        static Dictionary<string, string> Valid(IReadOnlyDictionary<string, string> stored) => stored
            .Where(p => ConfigTable.Find(ConfigScope.Broker, p.Key) is { Dynamic: true } definition && definition.Validate(p.Value) is null)
            .ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

        return config.WithDynamic(Valid(Metadata.BrokerConfigs("")), Valid(Metadata.BrokerConfigs(BrokerResourceName)));
    }

    /// <summary>
    /// Creates a topic, or returns the existing one of that name. Throws <see cref="ArgumentException"/> for a name or
    /// configs the logs could not open with, before anything is stored.
    /// </summary>
    /// <param name="replicationFactor">In cluster mode: replicas per partition (-1: default.replication.factor); else ignored.</param>
    /// <param name="cancellationToken">In cluster mode: ends the wait for etcd (<see cref="Cluster.ClusterTimeoutException"/>).</param>
    public (TopicInfo Topic, bool Created) CreateTopic(string name, int partitions, IReadOnlyDictionary<string, string> configs, int replicationFactor = -1,
        CancellationToken cancellationToken = default)
    {
        if (MetadataStore.ValidateTopicName(name) is { } invalidName)
        {
            throw new ArgumentException(invalidName, nameof(name));
        }

        if (TopicConfigs.Validate(configs) is { } invalid)
        {
            throw new ArgumentException(invalid, nameof(configs));
        }

        if (Cluster is not null && !IsLocalOnly(name))
        {
            return CreateClusterTopic(name, partitions, configs, replicationFactor, null, cancellationToken);
        }

        lock (_topicLock)
        {
            // Stored first (a refused write throws and changes nothing), then the logs; if one of them cannot be
            // opened (disk full, out of descriptors) the others are removed and so is the topic: all or nothing.
            var (topic, created) = Metadata.Create(name, partitions, configs);
            if (created)
            {
                try
                {
                    OpenPartitions(topic, 0);
                }
                catch (Exception e) when (IsStorageFailure(e))
                {
                    LogCreateFailed(_logger, e, name, partitions);
                    RemovePartitions(topic.Name, 0, topic.PartitionCount, removeAtOnce: true);
                    Undo(() => Metadata.Delete(topic.Name), topic.Name);
                    throw;
                }
            }

            return (topic, created);
        }
    }

    /// <summary>
    /// Removes the topic from the metadata (durably, or not at all: a refused write throws and the topic stays), then
    /// its logs. Returns false when there is no such topic.
    /// </summary>
    public bool DeleteTopic(string name, CancellationToken cancellationToken = default)
    {
        if (Cluster is not null && !IsLocalOnly(name))
        {
            return DeleteClusterTopic(name, cancellationToken);
        }

        lock (_topicLock)
        {
            var topic = Metadata.Delete(name);
            if (topic is null)
            {
                return false;
            }

            RemovePartitions(topic.Name, 0, topic.PartitionCount);
            return true;
        }
    }

    /// <summary>Adds partitions, all or none, as <see cref="CreateTopic(string, int, IReadOnlyDictionary{string, string}, int, CancellationToken)"/> creates them.</summary>
    public TopicInfo AddPartitions(TopicInfo topic, int newCount, CancellationToken cancellationToken = default)
    {
        if (Cluster is not null && !IsLocalOnly(topic.Name))
        {
            return AddClusterPartitions(topic, newCount, cancellationToken);
        }

        lock (_topicLock)
        {
            var updated = Metadata.Update(topic with { PartitionCount = newCount });
            try
            {
                OpenPartitions(updated, topic.PartitionCount);
            }
            catch (Exception e) when (IsStorageFailure(e))
            {
                LogCreateFailed(_logger, e, topic.Name, newCount);
                RemovePartitions(topic.Name, topic.PartitionCount, newCount, removeAtOnce: true);
                Undo(() => Metadata.Update(topic), topic.Name);
                throw;
            }

            return updated;
        }
    }

    /// <summary>
    /// A failure of the disk or the file system (full, failing, out of descriptors, no permission) rather than of the
    /// request: answered with KAFKA_STORAGE_ERROR, and nothing it was changing became visible.
    /// </summary>
    public static bool IsStorageFailure(Exception e) => e is IOException or UnauthorizedAccessException;

    public TopicInfo UpdateTopicConfigs(TopicInfo topic, IReadOnlyDictionary<string, string> configs, CancellationToken cancellationToken = default)
    {
        if (Cluster is not null && !IsLocalOnly(topic.Name))
        {
            return UpdateClusterTopicConfigs(topic, configs, cancellationToken);
        }

        lock (_topicLock)
        {
            var updated = Metadata.Update(topic with { Configs = configs });
            var logConfig = LogConfigFor(updated);
            for (var p = 0; p < updated.PartitionCount; p++)
            {
                Logs.UpdateConfig(updated.Name, p, logConfig);
            }

            return updated;
        }
    }

    /// <summary>
    /// Runs a read-check-change of topics (admin handlers) with no other topic change in between, so a change made
    /// from a topic read inside is not lost to, or resurrected by, a concurrent one. The lock is reentrant: the
    /// change may call <see cref="AddPartitions"/>, <see cref="UpdateTopicConfigs"/> and the rest.
    /// </summary>
    public T WithTopicLock<T>(Func<T> change)
    {
        lock (_topicLock)
        {
            return change();
        }
    }

    /// <summary>The configs of internal topics: compacted, kept forever.</summary>
    private static readonly Dictionary<string, string> InternalTopicConfigs = new()
    {
        [TopicConfigs.CleanupPolicy] = "compact",
        [TopicConfigs.RetentionMs] = "-1",
        [TopicConfigs.RetentionBytes] = "-1",
        [TopicConfigs.SegmentBytes] = "104857600",
    };

    /// <summary>
    /// A partition's log of an internal compacted topic (__consumer_offsets, __transaction_state) on a single node; the
    /// topic is created on first use with <see cref="CoordinatorPartitionCount"/> partitions. Storage does not compact
    /// yet and would apply time retention to it like any other topic, deleting state that is still current, so
    /// internal topics keep everything until compaction exists. 100 MiB segments are Kafka's default for its internal
    /// topics.
    /// </summary>
    public (PartitionLog Log, bool Created) OpenInternalLog(string name, int partition)
    {
        var (topic, created) = CreateTopic(name, CoordinatorPartitionCount(name), InternalTopicConfigs);
        return (FindLog(topic, partition) ?? throw new IOException($"{name}-{partition} has no log"), created);
    }

    /// <summary>
    /// The log of a partition of <paramref name="topic"/>; null when there is no such partition or its log cannot be
    /// opened (see <see cref="IsUnavailable"/>). A partition of an existing topic whose log is missing (its creation
    /// failed and could not be undone) is opened here, so it works again once the disk does.
    /// </summary>
    public PartitionLog? FindLog(TopicInfo topic, int partition)
    {
        if (partition < 0 || partition >= topic.PartitionCount)
        {
            return null;
        }

        return Logs.TryGet(topic.Name, partition, out var log) ? log
            : HostsReplica(topic, partition) ? OpenMissing(topic.Id, partition)
            : null;
    }

    /// <summary>
    /// True when the partition exists in the metadata and is hosted here (<see cref="HostsReplica"/>) but has no log
    /// that can be used: KAFKA_STORAGE_ERROR.
    /// </summary>
    public bool IsUnavailable(TopicInfo topic, int partition) =>
        partition >= 0 && partition < topic.PartitionCount && HostsReplica(topic, partition) && FindLog(topic, partition) is null;

    /// <summary>
    /// The error for a partition of <paramref name="topic"/> whose <see cref="FindLog"/> is null: UNKNOWN_TOPIC_OR_PARTITION
    /// when the topic has no such partition, NOT_LEADER_OR_FOLLOWER when this broker is not one of its replicas (cluster
    /// mode), else KAFKA_STORAGE_ERROR (its log cannot be opened).
    /// </summary>
    public ErrorCode MissingLogError(TopicInfo topic, int partition) =>
        partition < 0 || partition >= topic.PartitionCount ? ErrorCode.UnknownTopicOrPartition
        : !HostsReplica(topic, partition) ? ErrorCode.NotLeaderOrFollower
        : ErrorCode.KafkaStorageError;

    private PartitionLog? OpenMissing(Guid topicId, int partition)
    {
        lock (_topicLock)
        {
            // Under the lock and by id, so a deleted (or deleted and recreated) topic's log is not brought back.
            if (Metadata.Find(topicId) is not { } current || partition >= current.PartitionCount || !HostsReplica(current, partition))
            {
                return null;
            }

            if (Logs.TryGet(current.Name, partition, out var log))
            {
                return log;
            }

            if (Logs.IsOffline(current.Name, partition))
            {
                return null;
            }

            try
            {
                return Logs.GetOrCreate(current.Name, partition, LogConfigFor(current));
            }
            catch (Exception e) when (IsStorageFailure(e) || e is ArgumentException)
            {
                LogPartitionUnavailable(_logger, e, current.Name, partition);
                return null;
            }
        }
    }

    /// <summary>
    /// Closes and deletes the logs of partitions [from, to); a failure is logged (the files stay) and the rest go on.
    /// Logs that held a live partition wait out file.delete.delay.ms under a <c>-delete</c> name; with
    /// <paramref name="removeAtOnce"/> (an undone create, leftovers before a partition opens anew) they go now.
    /// </summary>
    private void RemovePartitions(string topic, int from, int to, bool removeAtOnce = false)
    {
        for (var p = from; p < to; p++)
        {
            try
            {
                Logs.Delete(topic, p, removeAtOnce);
            }
            catch (Exception e) when (IsStorageFailure(e))
            {
                LogPartitionDeleteFailed(_logger, e, topic, p);
            }
        }
    }

    /// <summary>Undoes a metadata change; if the disk refuses that too, the partitions without logs are opened on use.</summary>
    private void Undo(Action undo, string topic)
    {
        try
        {
            undo();
        }
        catch (Exception e) when (IsStorageFailure(e))
        {
            LogUndoFailed(_logger, e, topic);
        }
    }

    /// <summary>
    /// Opens a stored topic's partitions; a partition that cannot be opened, or a topic whose stored name or configs the
    /// logs refuse (stored by an older version), is taken offline and logged: KAFKA_STORAGE_ERROR for its clients, and
    /// never a reason for the broker not to start.
    /// </summary>
    private void OpenPartitionsAtStart(TopicInfo topic)
    {
        LogConfig config;
        try
        {
            if (MetadataStore.ValidateTopicName(topic.Name) is { } invalidName)
            {
                throw new InvalidDataException(invalidName);
            }

            config = LogConfigFor(topic);
            config.Validate();
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or FormatException or OverflowException)
        {
            for (var p = 0; p < topic.PartitionCount; p++)
            {
                Logs.TakeOffline(topic.Name, p, e);
            }

            return;
        }

        var hostedOnly = Config.ClusterMode && !IsLocalOnly(topic.Name);
        for (var p = 0; p < topic.PartitionCount; p++)
        {
            if (Logs.IsOffline(topic.Name, p) || (hostedOnly && !Logs.TryGet(topic.Name, p, out _)))
            {
                continue;
            }

            try
            {
                Logs.GetOrCreate(topic.Name, p, config);
            }
            catch (Exception e) when (IsStorageFailure(e) || e is InvalidDataException or ArgumentException)
            {
                Logs.TakeOffline(topic.Name, p, e);
            }
        }
    }

    private void OpenPartitions(TopicInfo topic, int from)
    {
        var config = LogConfigFor(topic);
        for (var p = from; p < topic.PartitionCount; p++)
        {
            // A new partition starts empty: files a deleted topic of the same name left (its deletion was refused part
            // way) are removed first, never served as the new partition's records. If they cannot be, it is not created.
            Logs.Delete(topic.Name, p, removeAtOnce: true);
            Logs.GetOrCreate(topic.Name, p, config);
        }
    }

    /// <summary>
    /// Removes the logs found at start of partitions the metadata does not have: left by a deletion the disk refused
    /// or a crash cut short (the metadata changes first), as Kafka removes stray logs. One that cannot be removed now
    /// stays until the partition is created again.
    /// </summary>
    private void RemoveStrayLogs()
    {
        foreach (var log in Logs.Logs)
        {
            if (Metadata.Find(log.Topic) is { } topic && log.Partition < topic.PartitionCount)
            {
                continue;
            }

            LogStrayRemoved(_logger, log.Topic, log.Partition);
            RemovePartitions(log.Topic, log.Partition, log.Partition + 1);
        }
    }

    private void ReleaseAfterFailedStart()
    {
        try
        {
            Groups?.Dispose();
            Logs.Dispose();
        }
        catch (Exception e) when (IsStorageFailure(e))
        {
        }
        finally
        {
            _directoryLock?.Dispose();
        }
    }

    public void Dispose()
    {
        try
        {
            ShareGroups.Dispose();
            Transactions.Dispose();
            Groups.Dispose();
            Logs.Dispose();
        }
        finally
        {
            // Released even when a log could not be flushed, so an embedded broker can open the directory again.
            _directoryLock?.Dispose();
        }
    }

    [LoggerMessage(EventId = 120, Level = LogLevel.Information, Message = "Page-cache drop after read: {State} ({Reason})")]
    private static partial void LogCacheDrop(ILogger logger, string state, string reason);

    [LoggerMessage(EventId = 135, Level = LogLevel.Information, Message = "Log files hold at most {OpenFilesMax} descriptors ({Reason}; open-file soft limit {SoftLimit})")]
    private static partial void LogOpenFiles(ILogger logger, int openFilesMax, string reason, long softLimit);

    [LoggerMessage(EventId = 121, Level = LogLevel.Error, Message = "Could not open the logs of {Topic} ({Partitions} partitions); the change is undone")]
    private static partial void LogCreateFailed(ILogger logger, Exception exception, string topic, int partitions);

    [LoggerMessage(EventId = 122, Level = LogLevel.Error, Message = "Could not undo the metadata change of {Topic}; its partitions without a log are opened on use")]
    private static partial void LogUndoFailed(ILogger logger, Exception exception, string topic);

    [LoggerMessage(EventId = 123, Level = LogLevel.Error, Message = "Could not delete the log of {Topic}-{Partition}; its files stay")]
    private static partial void LogPartitionDeleteFailed(ILogger logger, Exception exception, string topic, int partition);

    [LoggerMessage(EventId = 125, Level = LogLevel.Warning, Message = "Removing the log of {Topic}-{Partition}: the metadata has no such partition")]
    private static partial void LogStrayRemoved(ILogger logger, string topic, int partition);

    [LoggerMessage(EventId = 124, Level = LogLevel.Warning, Message = "{Topic}-{Partition} has no log and cannot be opened")]
    private static partial void LogPartitionUnavailable(ILogger logger, Exception exception, string topic, int partition);
}
