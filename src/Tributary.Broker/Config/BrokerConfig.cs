using System.Globalization;
using Tributary.Storage;

namespace Tributary.Broker.Config;

/// <summary>
/// Broker configuration under Kafka's key names. Built from key/value pairs (a properties file, <c>--set</c>,
/// <c>TRIBUTARY_*</c> environment variables); an unknown key or a bad value is an error, never ignored.
/// </summary>
public sealed record BrokerConfig
{
    public static readonly IReadOnlyDictionary<string, ConfigDefinition> Definitions = new[]
    {
        new ConfigDefinition("node.id", ConfigType.Int, "0", Min: 0),
        new ConfigDefinition("broker.id", ConfigType.Int, null, Min: 0),
        new ConfigDefinition("listeners", ConfigType.String, "PLAINTEXT://127.0.0.1:9092"),
        new ConfigDefinition("advertised.listeners", ConfigType.String, null),
        new ConfigDefinition("log.dirs", ConfigType.String, "./data"),
        new ConfigDefinition("log.dir", ConfigType.String, null),
        new ConfigDefinition("tributary.storage", ConfigType.String, "disk", Allowed: ["disk", "memory"]),
        new ConfigDefinition("tributary.log.cache.drop.behind.bytes", ConfigType.Long, "-1", Min: -1),
        new ConfigDefinition("tributary.log.cache.drop.after.read", ConfigType.String, "auto", Allowed: ["auto", "true", "false"]),
        new ConfigDefinition("num.partitions", ConfigType.Int, "1", Min: 1, Max: PartitionsPerTopicMax),
        new ConfigDefinition("default.replication.factor", ConfigType.Int, "1", Min: 1, Max: 1),
        new ConfigDefinition("auto.create.topics.enable", ConfigType.Boolean, "true"),
        new ConfigDefinition("delete.topic.enable", ConfigType.Boolean, "true"),
        new ConfigDefinition("message.max.bytes", ConfigType.Int, "1048588", Min: 0),
        new ConfigDefinition("socket.request.max.bytes", ConfigType.Int, "104857600", Min: 1024),
        new ConfigDefinition("max.connections", ConfigType.Int, "1000", Min: 1),
        new ConfigDefinition("max.connections.per.ip", ConfigType.Int, "2147483647", Min: 0),
        new ConfigDefinition("max.connections.per.ip.overrides", ConfigType.String, ""),
        new ConfigDefinition("connections.max.idle.ms", ConfigType.Long, "600000", Min: 1),
        new ConfigDefinition("tributary.partial.request.timeout.ms", ConfigType.Long, "30000", Min: 1),
        new ConfigDefinition("tributary.connection.threads.max", ConfigType.Int, null, Min: 1),
        new ConfigDefinition("queued.max.request.bytes", ConfigType.Long, "268435456", Min: -1),
        new ConfigDefinition("tributary.decompression.memory.bytes", ConfigType.Long, "268435456", Min: 1048576),
        new ConfigDefinition("log.retention.ms", ConfigType.Long, null, Min: -1),
        new ConfigDefinition("log.retention.minutes", ConfigType.Int, null, Min: -1),
        new ConfigDefinition("log.retention.hours", ConfigType.Int, "168", Min: -1),
        new ConfigDefinition("log.retention.bytes", ConfigType.Long, "-1", Min: -1),
        new ConfigDefinition("log.retention.check.interval.ms", ConfigType.Long, "300000", Min: 1),
        new ConfigDefinition("log.segment.bytes", ConfigType.Int, "1073741824", Min: LogConfig.SegmentBytesMin),
        new ConfigDefinition("log.roll.ms", ConfigType.Long, null, Min: 1),
        new ConfigDefinition("log.roll.hours", ConfigType.Int, "168", Min: 1),
        new ConfigDefinition("log.flush.interval.messages", ConfigType.Long, long.MaxValue.ToString(CultureInfo.InvariantCulture), Min: 1),
        new ConfigDefinition("log.flush.interval.ms", ConfigType.Long, null, Min: 0),
        new ConfigDefinition("log.flush.scheduler.interval.ms", ConfigType.Long, "1000", Min: 1),
        new ConfigDefinition("log.message.timestamp.type", ConfigType.String, "CreateTime", Allowed: ["CreateTime", "LogAppendTime"]),
        new ConfigDefinition("group.max.size", ConfigType.Int, "2147483647", Min: 1),
        new ConfigDefinition("group.min.session.timeout.ms", ConfigType.Int, "6000", Min: 0),
        new ConfigDefinition("group.max.session.timeout.ms", ConfigType.Int, "1800000", Min: 0),
        new ConfigDefinition("group.initial.rebalance.delay.ms", ConfigType.Int, "3000", Min: 0, Max: GroupInitialRebalanceDelayMsMax),
        new ConfigDefinition("group.consumer.heartbeat.interval.ms", ConfigType.Int, "5000", Min: 1),
        new ConfigDefinition("group.consumer.session.timeout.ms", ConfigType.Int, "45000", Min: 1),
        new ConfigDefinition("offsets.retention.minutes", ConfigType.Int, "10080", Min: 1),
        new ConfigDefinition("transaction.max.timeout.ms", ConfigType.Int, "900000", Min: 1),
    }.ToDictionary(d => d.Name, StringComparer.Ordinal);

    /// <summary>
    /// Upper bound on group.initial.rebalance.delay.ms (Kafka has none): a longer first rebalance would outlast the Java
    /// consumer's default JoinGroup request timeout (max.poll.interval.ms 300 000 + 5 000), so clients would time out.
    /// </summary>
    public const int GroupInitialRebalanceDelayMsMax = 300_000;

    /// <summary>Upper bound on partitions in one topic: keeps an absurd CreateTopics from creating millions of directories.</summary>
    public const int PartitionsPerTopicMax = 10_000;

    public int NodeId { get; init; }
    public string ListenerHost { get; init; } = "127.0.0.1";
    public int ListenerPort { get; init; } = 9092;
    public string? AdvertisedHost { get; init; }
    public int? AdvertisedPort { get; init; }
    public string LogDir { get; init; } = "./data";
    public bool InMemoryStorage { get; init; }

    /// <summary>
    /// tributary.log.cache.drop.behind.bytes: once written out, segment bytes this far (at least 1 MiB) behind the
    /// newest bytes handed for write-out are dropped from the page cache; -1 (the default) leaves them to the kernel.
    /// </summary>
    public long LogCacheDropBehindBytes { get; init; } = -1;

    /// <summary>
    /// tributary.log.cache.drop.after.read: whether segment bytes every reader seen in the last 10 s has fetched past
    /// are dropped from the page cache once written out (a partition nobody reads keeps its pages). Null ("auto", the
    /// default) means yes exactly on a VM whose host takes back the memory it frees (<see cref="Storage.Devices.HostMemory"/>).
    /// </summary>
    public bool? LogCacheDropAfterRead { get; init; }

    public int NumPartitions { get; init; } = 1;
    public bool AutoCreateTopicsEnable { get; init; } = true;
    public bool DeleteTopicEnable { get; init; } = true;
    public int MessageMaxBytes { get; init; } = 1048588;
    public int SocketRequestMaxBytes { get; init; } = 104857600;
    public int ConnectionsMax { get; init; } = 1000;

    /// <summary>max.connections.per.ip: connections one client address may hold; more are closed at accept.</summary>
    public int ConnectionsMaxPerIp { get; init; } = int.MaxValue;

    /// <summary>max.connections.per.ip.overrides: per host name or IP address, its own limit instead of max.connections.per.ip.</summary>
    public IReadOnlyDictionary<string, int> ConnectionsMaxPerIpOverrides { get; init; } = new Dictionary<string, int>();

    /// <summary>connections.max.idle.ms: a connection that sends nothing for this long between requests is closed (Kafka: 10 minutes).</summary>
    public long ConnectionsMaxIdleMs { get; init; } = 600_000;

    /// <summary>
    /// tributary.partial.request.timeout.ms: longest a request may take to arrive whole once its first bytes are waiting
    /// (a client that trickles a request byte by byte, "slowloris", is closed). 30 s, clients' own request.timeout.ms
    /// default: a default client has given up on a request still arriving after that.
    /// </summary>
    public long PartialRequestTimeoutMs { get; init; } = 30_000;

    /// <summary>
    /// tributary.connection.threads.max: dedicated threads busy connections may hold at once (idle ones hold none); a
    /// busy connection past it is served on the thread pool. Unset: twice the processor count.
    /// </summary>
    public int? ConnectionThreadsMax { get; init; }

    /// <summary>
    /// queued.max.request.bytes: bytes of request frames received (whole or in part) and not yet handled, across all
    /// connections; past it connections stop reading their sockets until requests finish. 0 or less: unbounded
    /// (Kafka's default, -1). Tributary's default, 256 MiB, holds two largest requests (socket.request.max.bytes) at once.
    /// </summary>
    public long QueuedMaxRequestBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>
    /// tributary.decompression.memory.bytes: scratch bytes all produce requests together may hold while they decompress
    /// batches to check them; a batch that finds no room within a few seconds is refused with a retriable error
    /// (REQUEST_TIMED_OUT). Default 256 MiB: four batches of the largest decompressed size at once.
    /// </summary>
    public long DecompressionMemoryBytes { get; init; } = 256L * 1024 * 1024;
    public long LogRetentionMs { get; init; } = 604800000;
    public long LogRetentionBytes { get; init; } = -1;
    public long LogRetentionCheckIntervalMs { get; init; } = 300000;
    public long LogSegmentBytes { get; init; } = 1073741824;
    public long LogRollMs { get; init; } = 604800000;
    public long LogFlushIntervalMessages { get; init; } = long.MaxValue;
    public long LogFlushIntervalMs { get; init; } = long.MaxValue;
    public long LogFlushSchedulerIntervalMs { get; init; } = 1000;
    public bool LogAppendTime { get; init; }
    public int GroupMaxSize { get; init; } = int.MaxValue;
    public int GroupMinSessionTimeoutMs { get; init; } = 6000;
    public int GroupMaxSessionTimeoutMs { get; init; } = 1800000;
    public int GroupInitialRebalanceDelayMs { get; init; } = 3000;
    public long OffsetsRetentionMs { get; init; } = 10080L * 60_000;
    public int TransactionMaxTimeoutMs { get; init; } = 900000;

    /// <summary>The values the config was built from (defaults excluded), for DescribeConfigs.</summary>
    public IReadOnlyDictionary<string, string> Explicit { get; init; } = new Dictionary<string, string>();

    public string AdvertisedHostOrListener => AdvertisedHost ?? ListenerHost;

    /// <summary>Builds a config; returns the errors (unknown keys, bad values) instead when there are any.</summary>
    public static (BrokerConfig? Config, IReadOnlyList<string> Errors) Parse(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var errors = new List<string>();
        foreach (var (rawKey, rawValue) in pairs)
        {
            var key = rawKey.Trim();
            var value = rawValue.Trim();
            if (!Definitions.TryGetValue(key, out var definition))
            {
                errors.Add($"unknown configuration key '{key}'");
                continue;
            }

            if (definition.Validate(value) is { } error)
            {
                errors.Add(error);
                continue;
            }

            values[key] = value;
        }

        (string Host, int Port)? listener = null;
        if (values.TryGetValue("listeners", out var listeners))
        {
            listener = ParseListener("listeners", listeners, errors);
        }

        (string Host, int Port)? advertised = null;
        if (values.TryGetValue("advertised.listeners", out var adv))
        {
            advertised = ParseListener("advertised.listeners", adv, errors);
        }

        var perIpOverrides = ParsePerIpOverrides(values.GetValueOrDefault("max.connections.per.ip.overrides", ""), errors);
        if (errors.Count > 0)
        {
            return (null, errors);
        }

        long L(string key, long fallback) => values.TryGetValue(key, out var v) ? long.Parse(v, CultureInfo.InvariantCulture) : fallback;
        var retentionMs = values.ContainsKey("log.retention.ms") ? L("log.retention.ms", 0)
            : values.ContainsKey("log.retention.minutes") ? Minutes(L("log.retention.minutes", 0))
            : Hours(L("log.retention.hours", 168));
        var config = new BrokerConfig
        {
            NodeId = (int)L("node.id", L("broker.id", 0)),
            ListenerHost = listener?.Host ?? "127.0.0.1",
            ListenerPort = listener?.Port ?? 9092,
            AdvertisedHost = advertised?.Host,
            AdvertisedPort = advertised?.Port,
            LogDir = values.GetValueOrDefault("log.dirs") ?? values.GetValueOrDefault("log.dir") ?? "./data",
            InMemoryStorage = values.GetValueOrDefault("tributary.storage") == "memory",
            LogCacheDropBehindBytes = L("tributary.log.cache.drop.behind.bytes", -1),
            LogCacheDropAfterRead = values.GetValueOrDefault("tributary.log.cache.drop.after.read", "auto") switch
            {
                "true" => true,
                "false" => false,
                _ => null,
            },
            NumPartitions = (int)L("num.partitions", 1),
            AutoCreateTopicsEnable = values.GetValueOrDefault("auto.create.topics.enable", "true") == "true",
            DeleteTopicEnable = values.GetValueOrDefault("delete.topic.enable", "true") == "true",
            MessageMaxBytes = (int)L("message.max.bytes", 1048588),
            SocketRequestMaxBytes = (int)L("socket.request.max.bytes", 104857600),
            ConnectionsMax = (int)L("max.connections", 1000),
            ConnectionsMaxPerIp = (int)L("max.connections.per.ip", int.MaxValue),
            ConnectionsMaxPerIpOverrides = perIpOverrides,
            ConnectionsMaxIdleMs = L("connections.max.idle.ms", 600_000),
            PartialRequestTimeoutMs = L("tributary.partial.request.timeout.ms", 30_000),
            ConnectionThreadsMax = values.ContainsKey("tributary.connection.threads.max") ? (int)L("tributary.connection.threads.max", 0) : null,
            QueuedMaxRequestBytes = L("queued.max.request.bytes", 256L * 1024 * 1024),
            DecompressionMemoryBytes = L("tributary.decompression.memory.bytes", 256L * 1024 * 1024),
            LogRetentionMs = retentionMs,
            LogRetentionBytes = L("log.retention.bytes", -1),
            LogRetentionCheckIntervalMs = L("log.retention.check.interval.ms", 300000),
            LogSegmentBytes = L("log.segment.bytes", 1073741824),
            LogRollMs = values.ContainsKey("log.roll.ms") ? L("log.roll.ms", 0) : Hours(L("log.roll.hours", 168)),
            LogFlushIntervalMessages = L("log.flush.interval.messages", long.MaxValue),
            LogFlushIntervalMs = L("log.flush.interval.ms", long.MaxValue),
            LogFlushSchedulerIntervalMs = L("log.flush.scheduler.interval.ms", 1000),
            LogAppendTime = values.GetValueOrDefault("log.message.timestamp.type") == "LogAppendTime",
            GroupMaxSize = (int)L("group.max.size", int.MaxValue),
            GroupMinSessionTimeoutMs = (int)L("group.min.session.timeout.ms", 6000),
            GroupMaxSessionTimeoutMs = (int)L("group.max.session.timeout.ms", 1800000),
            GroupInitialRebalanceDelayMs = (int)L("group.initial.rebalance.delay.ms", 3000),
            OffsetsRetentionMs = Minutes(L("offsets.retention.minutes", 10080)),
            TransactionMaxTimeoutMs = (int)L("transaction.max.timeout.ms", 900000),
            Explicit = values,
        };
        return (config, errors);

        static long Hours(long h) => h < 0 ? -1 : h * 3_600_000;
        static long Minutes(long m) => m < 0 ? -1 : m * 60_000;
    }

    /// <summary>
    /// Listener schemes (security protocols) the broker can serve. Kafka's SSL, SASL_SSL and SASL_PLAINTEXT are refused
    /// until they are implemented: serving plaintext under a secure listener's name would hand a client that believes
    /// its traffic is encrypted or authenticated a connection that is neither.
    /// </summary>
    public static readonly IReadOnlyList<string> SupportedListenerSchemes = ["PLAINTEXT"];

    private static (string Host, int Port)? ParseListener(string key, string value, List<string> errors)
    {
        // PLAINTEXT://host:port[,PLAINTEXT://host:port…]: the first is served. The host is an IP address or a host name
        // (resolved when the broker starts); an empty host ("all interfaces") is refused: loopback only by default.
        (string Host, int Port)? first = null;
        foreach (var entry in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var schemeEnd = entry.IndexOf("://", StringComparison.Ordinal);
            if (schemeEnd >= 0 && !SupportedListenerSchemes.Contains(entry[..schemeEnd], StringComparer.Ordinal))
            {
                errors.Add($"{key}={value}: {entry[..schemeEnd]} listeners are not supported yet (only {string.Join(", ", SupportedListenerSchemes)}); " +
                    "a secure listener is never served in plaintext");
                return null;
            }

            var hostPort = schemeEnd >= 0 ? entry[(schemeEnd + 3)..] : entry;
            var colon = hostPort.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(hostPort[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
            {
                errors.Add($"{key}={value}: expected PLAINTEXT://host:port");
                return null;
            }

            var host = hostPort[..colon].Trim('[', ']');
            if (Uri.CheckHostName(host) == UriHostNameType.Unknown)
            {
                errors.Add($"{key}={value}: '{host}' is neither an IP address nor a host name");
                return null;
            }

            first ??= (host, port);
        }

        if (first is null)
        {
            errors.Add($"{key}={value}: expected PLAINTEXT://host:port");
        }

        return first;
    }

    /// <summary>max.connections.per.ip.overrides: <c>host:count,host:count</c>, each host an IP address or a host name.</summary>
    private static Dictionary<string, int> ParsePerIpOverrides(string value, List<string> errors)
    {
        var overrides = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = entry.LastIndexOf(':');
            var host = colon > 0 ? entry[..colon].Trim().Trim('[', ']') : "";
            if (colon <= 0 || Uri.CheckHostName(host) == UriHostNameType.Unknown
                || !int.TryParse(entry[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var count))
            {
                errors.Add($"max.connections.per.ip.overrides={value}: expected host:count entries, not '{entry}'");
                return overrides;
            }

            overrides[host] = count;
        }

        return overrides;
    }

    /// <summary>The effective value of every broker key, for DescribeConfigs (resource type BROKER).</summary>
    public IEnumerable<(string Key, string? Value, bool IsDefault)> Describe()
    {
        foreach (var (key, definition) in Definitions)
        {
            if (Explicit.TryGetValue(key, out var v))
            {
                yield return (key, v, false);
            }
            else
            {
                yield return (key, definition.Default, true);
            }
        }
    }
}
