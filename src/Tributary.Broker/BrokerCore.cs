using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker.Config;
using Tributary.Broker.Groups;
using Tributary.Broker.Metadata;
using Tributary.Broker.Transactions;
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

    public BrokerCore(BrokerConfig config, TimeProvider? time = null, ILoggerFactory? loggerFactory = null)
    {
        Config = config;
        Time = time ?? TimeProvider.System;
        LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        var defaultLogConfig = TopicConfigs.ToLogConfig(new Dictionary<string, string>(), config);
        if (config.InMemoryStorage)
        {
            Metadata = new MetadataStore(null);
            Logs = LogManager.InMemory(defaultLogConfig, Time, LoggerFactory);
        }
        else
        {
            var dir = Path.GetFullPath(config.LogDir);
            Directory.CreateDirectory(dir);
            _directoryLock = DataDirectoryLock.Acquire(dir);
            try
            {
                Metadata = new MetadataStore(dir);
                var dropAfterRead = config.LogCacheDropAfterRead ?? HostMemory.ReportsFreedMemory();
                var reason = config.LogCacheDropAfterRead is not null ? "set"
                    : dropAfterRead ? "auto: the host takes back freed memory" : "auto: the host keeps no freed memory";
                LogCacheDrop(LoggerFactory.CreateLogger<BrokerCore>(), dropAfterRead ? "on" : "off", reason);
                Logs = new LogManager(new FileLogDevice(config.LogCacheDropBehindBytes, dropAfterRead), dir, defaultLogConfig, Time, LoggerFactory);
            }
            catch
            {
                _directoryLock.Dispose();
                throw;
            }
        }

        // Partitions of topics the metadata knows but whose directories are missing (a crash between the
        // metadata write and the first append) are created empty.
        foreach (var topic in Metadata.Topics)
        {
            OpenPartitions(topic, 0);
        }

        // Last: the coordinator reloads groups and offsets from __consumer_offsets, which needs the logs open.
        Groups = new GroupCoordinator(this);

        // After the groups: completing a transaction found half-done at start may commit offsets.
        Transactions = new TransactionCoordinator(this, config.InMemoryStorage ? null : Path.GetFullPath(config.LogDir));
    }

    /// <summary>Held while the data directory is open (null in memory): a second broker on it fails at start.</summary>
    private readonly DataDirectoryLock? _directoryLock;

    public BrokerConfig Config { get; }

    public TimeProvider Time { get; }

    public ILoggerFactory LoggerFactory { get; }

    public MetadataStore Metadata { get; }

    public LogManager Logs { get; }

    public GroupCoordinator Groups { get; }

    public TransactionCoordinator Transactions { get; }

    public int NodeId => Config.NodeId;

    /// <summary>Host and port clients are told to connect to (set once the listener is bound).</summary>
    public string AdvertisedHost { get; set; } = "127.0.0.1";

    public int AdvertisedPort { get; set; } = 9092;

    public long NowMs => Time.GetUtcNow().ToUnixTimeMilliseconds();

    public LogConfig LogConfigFor(TopicInfo topic) => TopicConfigs.ToLogConfig(topic.Configs, Config);

    /// <summary>
    /// Creates a topic, or returns the existing one of that name. Throws <see cref="ArgumentException"/> for a name or
    /// configs the logs could not open with, before anything is stored.
    /// </summary>
    public (TopicInfo Topic, bool Created) CreateTopic(string name, int partitions, IReadOnlyDictionary<string, string> configs)
    {
        if (MetadataStore.ValidateTopicName(name) is { } invalidName)
        {
            throw new ArgumentException(invalidName, nameof(name));
        }

        TopicConfigs.ToLogConfig(configs, Config).Validate();
        lock (_topicLock)
        {
            var (topic, created) = Metadata.Create(name, partitions, configs);
            if (created)
            {
                OpenPartitions(topic, 0);
            }

            return (topic, created);
        }
    }

    public bool DeleteTopic(string name)
    {
        lock (_topicLock)
        {
            var topic = Metadata.Delete(name);
            if (topic is null)
            {
                return false;
            }

            for (var p = 0; p < topic.PartitionCount; p++)
            {
                Logs.Delete(topic.Name, p);
            }

            return true;
        }
    }

    public TopicInfo AddPartitions(TopicInfo topic, int newCount)
    {
        lock (_topicLock)
        {
            var updated = Metadata.Update(topic with { PartitionCount = newCount });
            OpenPartitions(updated, topic.PartitionCount);
            return updated;
        }
    }

    public TopicInfo UpdateTopicConfigs(TopicInfo topic, IReadOnlyDictionary<string, string> configs)
    {
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

    /// <summary>
    /// The single-partition log of an internal compacted topic (__consumer_offsets, __transaction_state), created on
    /// first use. Storage does not compact yet and would apply time retention to it like any other topic, deleting
    /// state that is still current, so internal topics keep everything until compaction exists. 100 MiB segments
    /// are Kafka's default for its internal topics.
    /// </summary>
    public (PartitionLog Log, bool Created) OpenInternalLog(string name)
    {
        var configs = new Dictionary<string, string>
        {
            [TopicConfigs.CleanupPolicy] = "compact",
            [TopicConfigs.RetentionMs] = "-1",
            [TopicConfigs.RetentionBytes] = "-1",
            [TopicConfigs.SegmentBytes] = "104857600",
        };
        var (topic, created) = CreateTopic(name, 1, configs);
        return (FindLog(topic, 0) ?? throw new IOException($"{name}-0 has no log"), created);
    }

    public PartitionLog? FindLog(TopicInfo topic, int partition) =>
        partition >= 0 && partition < topic.PartitionCount && Logs.TryGet(topic.Name, partition, out var log) ? log : null;

    private void OpenPartitions(TopicInfo topic, int from)
    {
        var config = LogConfigFor(topic);
        for (var p = from; p < topic.PartitionCount; p++)
        {
            Logs.GetOrCreate(topic.Name, p, config);
        }
    }

    public void Dispose()
    {
        try
        {
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
}
