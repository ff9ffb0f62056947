using System.Globalization;
using Tributary.Broker.Security;

namespace Tributary.Broker.Config;

/// <summary>
/// Broker configuration under Kafka's key names, bound from the broker rows of <see cref="ConfigTable"/>. Built from
/// key/value pairs (a properties file, <c>--set</c>, <c>TRIBUTARY_*</c> environment variables); an unknown key or a
/// bad value is an error, never ignored. <c>new BrokerConfig()</c> holds every key's default.
/// </summary>
public sealed record BrokerConfig
{
    /// <summary>
    /// Upper bound on group.initial.rebalance.delay.ms (Kafka has none): a longer first rebalance would outlast the Java
    /// consumer's default JoinGroup request timeout (max.poll.interval.ms 300 000 + 5 000), so clients would time out.
    /// </summary>
    public const int GroupInitialRebalanceDelayMsMax = 300_000;

    /// <summary>Upper bound on partitions in one topic: keeps an absurd CreateTopics from creating millions of directories.</summary>
    public const int PartitionsPerTopicMax = 10_000;

    /// <summary>Upper bound on log.cleaner.threads: each thread holds its share of the dedupe buffer and one log at a time.</summary>
    public const int LogCleanerThreadsMax = 64;

    public static IReadOnlyDictionary<string, ConfigDefinition> Definitions { get; } = ConfigTable.BrokerKeys.ToDictionary(d => d.Name, StringComparer.Ordinal);

    private static BrokerConfig? _defaults;

    /// <summary>Every key at its default; the properties have no initialisers of their own, the table has them.</summary>
    public BrokerConfig()
        : this(_defaults ??= Bind(new Dictionary<string, string>()))
    {
    }

    // Only for Bind: a config whose properties the rows then set.
    private BrokerConfig(bool unbound)
    {
        _ = unbound;
    }

    public int NodeId { get; init; }

    /// <summary>listeners: what the broker binds, by listener name; the first is the embedded broker's bootstrap address.</summary>
    public IReadOnlyList<ListenerEndpoint> Listeners { get; init; } = [];

    /// <summary>advertised.listeners: what clients are told per listener; a listener missing here advertises its bound address.</summary>
    public IReadOnlyList<ListenerEndpoint> AdvertisedListeners { get; init; } = [];

    /// <summary>listener.security.protocol.map: each listener name's security protocol.</summary>
    public IReadOnlyDictionary<string, string> SecurityProtocolMap { get; init; } = new Dictionary<string, string>();

    /// <summary>sasl.enabled.mechanisms: the mechanisms of SASL listeners without a listener.name.&lt;l&gt;. override.</summary>
    public IReadOnlyList<string> SaslEnabledMechanisms { get; init; } = [];

    /// <summary>connection.failed.authentication.delay.ms: how long a failed authentication waits before it is answered and closed.</summary>
    public int ConnectionFailedAuthenticationDelayMs { get; init; }

    /// <summary>authorizer.class.name: empty (no authorizer: everything allowed) or Kafka's StandardAuthorizer.</summary>
    public string AuthorizerClassName { get; init; } = "";

    /// <summary>super.users: principals (User:NAME) the authorizer allows everything.</summary>
    public IReadOnlySet<string> SuperUsers { get; init; } = new HashSet<string>();

    /// <summary>allow.everyone.if.no.acl.found: whether a resource without any ACL is open to all.</summary>
    public bool AllowEveryoneIfNoAclFound { get; init; }

    /// <summary>sasl.server.max.receive.size: largest frame a client may send before it has authenticated.</summary>
    public int SaslServerMaxReceiveSize { get; init; }

    /// <summary>The sasl.oauthbearer.* keys of signed-JWT validation (KIP-768).</summary>
    public OAuthBearerSettings OAuthBearer { get; init; } = new(null, [], null, "sub", "scope", 30);

    /// <summary>connections.max.reauth.ms: a SASL session's longest life; 0 or less: none.</summary>
    public long ConnectionsMaxReauthMs { get; init; }

    /// <summary>
    /// connections.max.reauth.ms of a mechanism on a listener: listener.name.&lt;l&gt;.&lt;mechanism&gt;.…, else
    /// listener.name.&lt;l&gt;.…, else the broker's.
    /// </summary>
    public long ConnectionsMaxReauthMsFor(string listener, string mechanism) =>
        (Explicit.GetValueOrDefault(Config.Listeners.PerListenerKey(listener, mechanism.ToLowerInvariant() + ".connections.max.reauth.ms"))
            ?? Explicit.GetValueOrDefault(Config.Listeners.PerListenerKey(listener, "connections.max.reauth.ms"))) is { } value
            ? long.Parse(value, CultureInfo.InvariantCulture)
            : ConnectionsMaxReauthMs;

    public string ListenerHost => Listeners[0].Host;

    public int ListenerPort => Listeners[0].Port;

    public string? AdvertisedHost => AdvertisedListeners.FirstOrDefault(a => a.Name == Listeners[0].Name)?.Host;

    public int? AdvertisedPort => AdvertisedListeners.FirstOrDefault(a => a.Name == Listeners[0].Name)?.Port;

    /// <summary>The security protocol of a listener (PLAINTEXT, SASL_PLAINTEXT); the cross-key check guarantees one.</summary>
    public string SecurityProtocolOf(string listener) => SecurityProtocolMap.GetValueOrDefault(listener, ListenerSecurity.Plaintext);

    /// <summary>listener.name.&lt;l&gt;.sasl.enabled.mechanisms, else sasl.enabled.mechanisms.</summary>
    public IReadOnlyList<string> SaslMechanismsFor(string listener) =>
        Explicit.GetValueOrDefault(Config.Listeners.PerListenerKey(listener, "sasl.enabled.mechanisms")) is { } value ? [.. ConfigDefinition.Items(value)] : SaslEnabledMechanisms;

    /// <summary>The PLAIN users of listener.name.&lt;l&gt;.plain.sasl.jaas.config; none when it is not set.</summary>
    public IReadOnlyDictionary<string, string> PlainUsersFor(string listener) =>
        Explicit.GetValueOrDefault(Config.Listeners.PerListenerKey(listener, "plain.sasl.jaas.config")) is { } value
            ? PlainJaasConfig.Parse(value).Users
            : new Dictionary<string, string>();

    /// <summary>inter.broker.listener.name as set (upper case), else null.</summary>
    public string? InterBrokerListenerName { get; init; }

    /// <summary>security.inter.broker.protocol: names the inter-broker listener when inter.broker.listener.name is unset.</summary>
    public string SecurityInterBrokerProtocol { get; init; } = ListenerSecurity.Plaintext;

    /// <summary>sasl.mechanism.inter.broker.protocol: the mechanism of inter-broker connections on a SASL listener.</summary>
    public string SaslMechanismInterBrokerProtocol { get; init; } = SaslMechanisms.Plain;

    /// <summary>The listener brokers connect to each other on (Kafka's rule: the name, else the protocol's own name).</summary>
    public string InterBrokerListener => InterBrokerListenerName ?? SecurityInterBrokerProtocol;

    /// <summary>listener.name.&lt;l&gt;.&lt;mechanism&gt;.sasl.jaas.config, or null.</summary>
    public string? JaasConfigFor(string listener, string mechanism) =>
        Explicit.GetValueOrDefault(Config.Listeners.PerListenerKey(listener, mechanism.ToLowerInvariant() + ".sasl.jaas.config"));

    /// <summary>tributary.admin.listeners: where the HTTP admin listener binds; empty: no admin listener.</summary>
    public IReadOnlyList<Uri> AdminListeners { get; init; } = [];

    /// <summary>tributary.ssl.handshake.timeout.ms: a TLS handshake not complete within this closes its connection.</summary>
    public long SslHandshakeTimeoutMs { get; init; }

    /// <summary>
    /// A TLS key of a listener: listener.name.&lt;l&gt;.ssl.…, else ssl.…, else the key's default (Kafka's precedence).
    /// <paramref name="key"/> is the global name (ssl.keystore.location).
    /// </summary>
    public string? SslValue(string listener, string key) =>
        Explicit.GetValueOrDefault(Config.Listeners.PerListenerKey(listener, key)) ?? Explicit.GetValueOrDefault(key) ?? Definitions[key].Default;

    public string LogDir { get; init; } = "";
    public bool InMemoryStorage { get; init; }

    /// <summary>
    /// tributary.log.cache.drop.behind.bytes: once written out, segment bytes this far (at least 1 MiB) behind the
    /// newest bytes handed for write-out are dropped from the page cache; -1 leaves them to the kernel.
    /// </summary>
    public long LogCacheDropBehindBytes { get; init; }

    /// <summary>
    /// tributary.log.cache.drop.after.read: whether segment bytes every reader seen in the last 10 s has fetched past
    /// are dropped from the page cache once written out (a partition nobody reads keeps its pages). Null ("auto")
    /// means yes exactly on a VM whose host takes back the memory it frees (<see cref="Storage.Devices.HostMemory"/>).
    /// </summary>
    public bool? LogCacheDropAfterRead { get; init; }

    /// <summary>
    /// tributary.log.open.files.max: descriptors the log's files hold at most (<see cref="Storage.Devices.OpenFileCache"/>);
    /// -1 derives it from the process's open-file limit (<see cref="Storage.Devices.OpenFileLimit.DefaultLogFilesMax"/>).
    /// </summary>
    public int LogOpenFilesMax { get; init; }

    public int NumPartitions { get; init; }

    /// <summary>default.replication.factor: replicas of a new topic in cluster mode.</summary>
    public int DefaultReplicationFactor { get; init; }

    /// <summary>offsets.topic.replication.factor: replicas of __consumer_offsets in cluster mode.</summary>
    public int OffsetsTopicReplicationFactor { get; init; }

    /// <summary>offsets.topic.num.partitions: partitions of __consumer_offsets when it is created; -1 for the mode's default.</summary>
    public int OffsetsTopicNumPartitions { get; init; }

    /// <summary>transaction.state.log.num.partitions: partitions of __transaction_state when it is created; -1 for the mode's default.</summary>
    public int TransactionStateLogNumPartitions { get; init; }

    /// <summary>transaction.state.log.replication.factor: replicas of __transaction_state in cluster mode.</summary>
    public int TransactionStateLogReplicationFactor { get; init; }

    /// <summary>transaction.state.log.min.isr: min.insync.replicas of __transaction_state in cluster mode.</summary>
    public int TransactionStateLogMinIsr { get; init; }

    /// <summary>share.coordinator.state.topic.num.partitions: partitions of __share_group_state when it is created; -1 for the mode's default.</summary>
    public int ShareCoordinatorStateTopicNumPartitions { get; init; }

    /// <summary>share.coordinator.state.topic.replication.factor: replicas of __share_group_state in cluster mode.</summary>
    public int ShareCoordinatorStateTopicReplicationFactor { get; init; }

    /// <summary>share.coordinator.state.topic.min.isr: min.insync.replicas of __share_group_state in cluster mode.</summary>
    public int ShareCoordinatorStateTopicMinIsr { get; init; }

    /// <summary>unclean.leader.election.enable (static or dynamic): in cluster mode, whether a replica outside the ISR may lead when no ISR member is live.</summary>
    public bool UncleanLeaderElectionEnable => Explicit.GetValueOrDefault("unclean.leader.election.enable") == "true";

    /// <summary>broker.rack: this broker's rack, or null.</summary>
    public string? Rack { get; init; }

    /// <summary>tributary.metadata.etcd.endpoints: empty for a single node; else the etcd cluster holding the cluster metadata.</summary>
    public IReadOnlyList<string> EtcdEndpoints { get; init; } = [];

    /// <summary>Cluster mode: the metadata lives in etcd (<see cref="EtcdEndpoints"/> set).</summary>
    public bool ClusterMode => EtcdEndpoints.Count > 0;

    /// <summary>tributary.metadata.etcd.prefix: the key prefix of this cluster in etcd.</summary>
    public string EtcdPrefix { get; init; } = "";

    /// <summary>tributary.metadata.etcd.lease.ms: TTL of the broker's registration lease.</summary>
    public int EtcdLeaseMs { get; init; }

    /// <summary>tributary.metadata.etcd.connect.timeout.ms: how long a start retries an unreachable etcd.</summary>
    public int EtcdConnectTimeoutMs { get; init; }

    /// <summary>tributary.metadata.etcd.ssl.truststore.location: PEM certificates etcd's server certificate must chain to; null for the system's.</summary>
    public string? EtcdSslTruststoreLocation { get; init; }

    /// <summary>tributary.metadata.etcd.ssl.keystore.location: PEM client certificate (chain) shown to etcd; null for none.</summary>
    public string? EtcdSslKeystoreLocation { get; init; }

    /// <summary>tributary.metadata.etcd.ssl.key.location: PEM private key of the client certificate; null when the keystore file holds it.</summary>
    public string? EtcdSslKeyLocation { get; init; }

    /// <summary>tributary.metadata.etcd.ssl.key.password: password of an encrypted PEM private key.</summary>
    public string? EtcdSslKeyPassword { get; init; }

    /// <summary>tributary.metadata.etcd.username: etcd user the broker authenticates as; null for no etcd authentication.</summary>
    public string? EtcdUsername { get; init; }

    /// <summary>tributary.metadata.etcd.password: that etcd user's password.</summary>
    public string? EtcdPassword { get; init; }

    /// <summary>tributary.cluster.crash.detection.enable: revoke the lease of a broker whose port refuses connections.</summary>
    public bool CrashDetectionEnable { get; init; }

    public bool AutoCreateTopicsEnable { get; init; }
    public bool DeleteTopicEnable { get; init; }
    public int SocketRequestMaxBytes { get; init; }
    public int ConnectionsMax { get; init; }

    /// <summary>max.connections.per.ip: connections one client address may hold; more are closed at accept.</summary>
    public int ConnectionsMaxPerIp { get; init; }

    /// <summary>max.connections.per.ip.overrides: per host name or IP address, its own limit instead of max.connections.per.ip.</summary>
    public IReadOnlyDictionary<string, int> ConnectionsMaxPerIpOverrides { get; init; } = new Dictionary<string, int>();

    /// <summary>max.connection.creation.rate: new connections per second accepted across listeners (KIP-612).</summary>
    public int ConnectionCreationRateMax { get; init; }

    /// <summary>listener.name.&lt;l&gt;.max.connection.creation.rate; null when the listener has no rate of its own.</summary>
    public int? ConnectionCreationRateMaxFor(string listener) =>
        Explicit.GetValueOrDefault(Config.Listeners.PerListenerKey(listener, "max.connection.creation.rate")) is { } value
            ? int.Parse(value, CultureInfo.InvariantCulture)
            : null;

    /// <summary>listener.name.&lt;l&gt;.max.connections; null when the listener has no limit of its own.</summary>
    public int? ConnectionsMaxFor(string listener) =>
        Explicit.GetValueOrDefault(Config.Listeners.PerListenerKey(listener, "max.connections")) is { } value
            ? int.Parse(value, CultureInfo.InvariantCulture)
            : null;

    /// <summary>quota.window.num: samples a client's quota rates are measured over.</summary>
    public int QuotaWindowNum { get; init; }

    /// <summary>quota.window.size.seconds: length of one quota sample.</summary>
    public int QuotaWindowSizeSeconds { get; init; }

    /// <summary>controller.quota.window.num: samples of controller_mutation_rate.</summary>
    public int ControllerQuotaWindowNum { get; init; }

    /// <summary>controller.quota.window.size.seconds: length of one controller_mutation_rate sample.</summary>
    public int ControllerQuotaWindowSizeSeconds { get; init; }

    /// <summary>connections.max.idle.ms: a connection that sends nothing for this long between requests is closed.</summary>
    public long ConnectionsMaxIdleMs { get; init; }

    /// <summary>
    /// tributary.partial.request.timeout.ms: longest a request may take to arrive whole once its first bytes are waiting
    /// (a client that trickles a request byte by byte, "slowloris", is closed). The default is clients' own
    /// request.timeout.ms: a default client has given up on a request still arriving after that.
    /// </summary>
    public long PartialRequestTimeoutMs { get; init; }


    /// <summary>
    /// queued.max.request.bytes: bytes of request frames received (whole or in part) and not yet handled, across all
    /// connections; past it connections stop reading their sockets until requests finish. 0 or less: unbounded
    /// (Kafka's default, -1). Tributary's default, 256 MiB, holds two largest requests (socket.request.max.bytes) at once.
    /// </summary>
    public long QueuedMaxRequestBytes { get; init; }

    /// <summary>
    /// tributary.decompression.memory.bytes: scratch bytes all produce requests together may hold while they decompress
    /// batches to check them; a batch that finds no room within a few seconds is refused with a retriable error
    /// (REQUEST_TIMED_OUT). Default 256 MiB: four batches of the largest decompressed size at once.
    /// </summary>
    public long DecompressionMemoryBytes { get; init; }
    /// <summary>
    /// max.incremental.fetch.session.cache.slots: fetch sessions (KIP-227) kept at once; past it a new session is made
    /// only by evicting one as Kafka does (<see cref="Handlers.FetchSessionCache"/>), else the fetch gets none.
    /// </summary>
    public int FetchSessionCacheSlots { get; init; }

    /// <summary>replica.lag.time.max.ms: how long a follower may stay behind its leader's log end before it leaves the ISR.</summary>
    public long ReplicaLagTimeMaxMs { get; init; }

    /// <summary>controlled.shutdown.enable: in cluster mode a clean stop moves this broker's leaderships first.</summary>
    public bool ControlledShutdownEnable { get; init; } = true;

    /// <summary>controlled.shutdown.max.retries: rounds a controlled shutdown waits for its leaderships to move.</summary>
    public int ControlledShutdownMaxRetries { get; init; } = 3;

    /// <summary>controlled.shutdown.retry.backoff.ms: the length of one round of that wait.</summary>
    public long ControlledShutdownRetryBackoffMs { get; init; } = 5000;

    /// <summary>auto.leader.rebalance.enable: the controller moves leadership back to preferred replicas.</summary>
    public bool AutoLeaderRebalanceEnable { get; init; } = true;

    /// <summary>leader.imbalance.check.interval.seconds: how often it checks.</summary>
    public long LeaderImbalanceCheckIntervalSeconds { get; init; } = 300;

    /// <summary>leader.imbalance.per.broker.percentage: the share of a broker's preferred partitions others may lead.</summary>
    public int LeaderImbalancePerBrokerPercentage { get; init; } = 10;

    /// <summary>replica.fetch.wait.max.ms: how long a follower's fetch parks at its leader.</summary>
    public int ReplicaFetchWaitMaxMs { get; init; }

    /// <summary>replica.fetch.max.bytes: a follower's per-partition fetch budget.</summary>
    public int ReplicaFetchMaxBytes { get; init; }

    /// <summary>replica.fetch.response.max.bytes: a follower's fetch budget, all partitions together.</summary>
    public int ReplicaFetchResponseMaxBytes { get; init; }

    /// <summary>replica.fetch.backoff.ms: a follower's wait after a failed fetch.</summary>
    public int ReplicaFetchBackoffMs { get; init; }

    public long LogRetentionCheckIntervalMs { get; init; }
    public long LogFlushSchedulerIntervalMs { get; init; }

    /// <summary>log.flush.offset.checkpoint.interval.ms: how often recovery points are checkpointed (0: only at a clean stop).</summary>
    public int LogFlushOffsetCheckpointIntervalMs { get; init; }
    public int GroupMaxSize { get; init; }
    public int GroupMinSessionTimeoutMs { get; init; }
    public int GroupMaxSessionTimeoutMs { get; init; }
    public int GroupInitialRebalanceDelayMs { get; init; }
    public int GroupConsumerHeartbeatIntervalMs { get; init; }
    public int GroupConsumerSessionTimeoutMs { get; init; }
    public long OffsetsRetentionMs { get; init; }
    public int TransactionMaxTimeoutMs { get; init; }
    public bool LogCleanerEnable { get; init; }
    public int LogCleanerThreads { get; init; }
    public long LogCleanerDedupeBufferSize { get; init; }
    public double LogCleanerIoMaxBytesPerSecond { get; init; }
    public long LogCleanerBackoffMs { get; init; }

    /// <summary>The settings of a topic without overrides: the topic keys' values inherited from this broker's keys.</summary>
    public TopicSettings TopicDefaults { get; init; } = new();

    public long LogRetentionMs => TopicDefaults.Log.RetentionMs;
    public long LogSegmentBytes => TopicDefaults.Log.SegmentBytes;
    public long LogRollMs => TopicDefaults.Log.SegmentMs;
    public int MessageMaxBytes => TopicDefaults.MaxMessageBytes;
    public bool LogAppendTime => TopicDefaults.LogAppendTime;

    /// <summary>
    /// The values in force (defaults excluded): the static ones the broker started with, overlaid by the dynamic
    /// cluster default, overlaid by this broker's own dynamic values (Kafka's precedence).
    /// </summary>
    public IReadOnlyDictionary<string, string> Explicit { get; init; } = new Dictionary<string, string>();

    /// <summary>The values the broker started with (properties file, environment, <c>--set</c>): STATIC_BROKER_CONFIG.</summary>
    public IReadOnlyDictionary<string, string> StaticValues { get; init; } = new Dictionary<string, string>();

    /// <summary>Dynamic values set for every broker (BROKER resource ""): DYNAMIC_DEFAULT_BROKER_CONFIG.</summary>
    public IReadOnlyDictionary<string, string> DynamicDefaultValues { get; init; } = new Dictionary<string, string>();

    /// <summary>Dynamic values set for this broker (BROKER resource named by its id): DYNAMIC_BROKER_CONFIG.</summary>
    public IReadOnlyDictionary<string, string> DynamicBrokerValues { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// This config with the dynamic values replaced. Dynamic keys are broker synonyms of topic keys, which no property
    /// binds but the topic defaults, so only those are resolved again; every other property stays as it is.
    /// </summary>
    public BrokerConfig WithDynamic(IReadOnlyDictionary<string, string> dynamicDefault, IReadOnlyDictionary<string, string> dynamicBroker)
    {
        if (dynamicDefault.Count == 0 && dynamicBroker.Count == 0 && DynamicDefaultValues.Count == 0 && DynamicBrokerValues.Count == 0)
        {
            return this;
        }

        var merged = new Dictionary<string, string>(StaticValues, StringComparer.Ordinal);
        foreach (var (key, value) in dynamicDefault.Concat(dynamicBroker))
        {
            merged[key] = value;
        }

        return this with
        {
            Explicit = merged,
            DynamicDefaultValues = dynamicDefault,
            DynamicBrokerValues = dynamicBroker,
            TopicDefaults = TopicSettings.Resolve(new Dictionary<string, string>(), merged),
        };
    }

    public string AdvertisedHostOrListener => AdvertisedHost ?? ListenerHost;

    /// <summary>Builds a config; returns the errors (unknown keys, bad values) instead when there are any.</summary>
    public static (BrokerConfig? Config, IReadOnlyList<string> Errors) Parse(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        var trimmed = pairs.Select(p => KeyValuePair.Create(p.Key.Trim(), p.Value.Trim())).ToList();
        var errors = ConfigTable.Validate(ConfigScope.Broker, trimmed);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in trimmed)
        {
            values[key] = value;
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var config = Bind(values);
        errors.AddRange(Config.Listeners.Validate(config));
        errors.AddRange(OAuthBearerConfig.Validate(config));
        if (config.ClusterMode && errors.Count == 0)
        {
            errors.AddRange(InterBrokerConfig.Validate(config));
        }

        return errors.Count > 0 ? (null, errors) : (config, errors);
    }

    /// <summary>Sets each property from its row: the key's explicit value, else its synonyms', else the default.</summary>
    private static BrokerConfig Bind(Dictionary<string, string> values)
    {
        var config = new BrokerConfig(unbound: true);
        foreach (var definition in ConfigTable.BrokerKeys)
        {
            if (definition.BindBroker is { } bind && ConfigTable.Resolve(definition, values).Value is { } value)
            {
                config = bind(config, value);
            }
        }

        return config with { Explicit = values, StaticValues = values, TopicDefaults = TopicSettings.Resolve(new Dictionary<string, string>(), values) };
    }

    /// <summary>max.connections.per.ip.overrides: <c>host:count,host:count</c>, each host an IP address or a host name.</summary>
    internal static (Dictionary<string, int> Overrides, string? Error) ParsePerIpOverrides(string value)
    {
        var overrides = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = entry.LastIndexOf(':');
            var host = colon > 0 ? entry[..colon].Trim().Trim('[', ']') : "";
            if (colon <= 0 || Uri.CheckHostName(host) == UriHostNameType.Unknown
                || !int.TryParse(entry[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var count))
            {
                return (overrides, $"max.connections.per.ip.overrides={value}: expected host:count entries, not '{entry}'");
            }

            overrides[host] = count;
        }

        return (overrides, null);
    }
}
