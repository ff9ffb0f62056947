using System.Globalization;
using Tributary.Broker.Security;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol.Records;
using Tributary.Storage;

namespace Tributary.Broker.Config;

/// <summary>
/// Every configuration key the broker knows, each declared once: broker keys (the properties file, <c>--set</c>,
/// <c>TRIBUTARY_*</c>) and topic keys (CreateTopics, AlterConfigs). Parsing, validation, the typed settings,
/// DescribeConfigs and the README's configuration reference all read this table; adding a key is adding a row.
/// </summary>
public static class ConfigTable
{
    private const string Ms7Days = "604800000";

    // Java's Double.MAX_VALUE as Kafka prints it.
    private const string DoubleMax = "1.7976931348623157E308";
    private static readonly string LongMax = long.MaxValue.ToString(CultureInfo.InvariantCulture);
    private static readonly string[] TimestampTypes = ["CreateTime", "LogAppendTime"];
    private static readonly string[] CompressionTypes = ["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"];
    private const string NoEffect = "Accepted and described; no effect in Tributary.";

    // Rows grouped by scope; DescribeConfigs lists keys by name. Static fields the rows use are declared above:
    // initialised in order.
    private static readonly IReadOnlyList<ConfigDefinition> Rows =
    [
        Broker("node.id", ConfigType.Int, "0", "This broker's id in metadata and DescribeCluster.", Min: 0,
            Bind: (c, v) => c with { NodeId = Int(v) }),
        Broker("broker.id", ConfigType.Int, null, "Older name of node.id, used when node.id is not set.", Min: 0, SynonymOf: "node.id"),
        Broker("broker.rack", ConfigType.String, null, "Rack of this broker: in cluster mode replicas of a partition go to different racks when racks are set; listed in Metadata and DescribeCluster.",
            Bind: (c, v) => c with { Rack = v }),
        Broker("tributary.metadata.etcd.endpoints", ConfigType.List, null, "http://host:port,… (or https://host:port,… for TLS) of the etcd cluster that holds the cluster metadata (cluster mode); unset, the broker is a single node with its local metadata store.",
            Check: Cluster.EtcdEndpoints.Check, Bind: (c, v) => c with { EtcdEndpoints = [.. ConfigDefinition.Items(v)] }),
        Broker("tributary.metadata.etcd.prefix", ConfigType.String, "/tributary", "Key prefix of this cluster's metadata in etcd; clusters sharing one etcd need different prefixes.",
            Check: v => v.StartsWith('/') && !v.EndsWith('/') ? null : "tributary.metadata.etcd.prefix must start with '/' and not end with '/'",
            Bind: (c, v) => c with { EtcdPrefix = v }),
        Broker("tributary.metadata.etcd.lease.ms", ConfigType.Int, "6000", "TTL of the etcd lease a broker registers under (kept alive every third of it): a broker silent this long is dead to the cluster and its partitions get new leaders.", Min: 2000, Max: 600000,
            Bind: (c, v) => c with { EtcdLeaseMs = Int(v) }),
        Broker("tributary.metadata.etcd.connect.timeout.ms", ConfigType.Int, "30000", "How long a starting broker retries an unreachable etcd before it gives up.", Min: 0,
            Bind: (c, v) => c with { EtcdConnectTimeoutMs = Int(v) }),
        // TLS and authentication to etcd (https:// endpoints; etcd's --trusted-ca-file/--client-cert-auth and its
        // user/password auth). Files are read when the broker joins the cluster; one that cannot be read fails the start.
        Broker("tributary.metadata.etcd.ssl.truststore.location", ConfigType.String, null, "PEM file of the certificate authorities etcd's server certificate must chain to (https:// endpoints); unset, the system's.",
            Bind: (c, v) => c with { EtcdSslTruststoreLocation = v }),
        Broker("tributary.metadata.etcd.ssl.keystore.location", ConfigType.String, null, "PEM file of the client certificate (leaf first, then any intermediates) shown to an etcd started with --client-cert-auth; may hold the private key too.",
            Bind: (c, v) => c with { EtcdSslKeystoreLocation = v }),
        Broker("tributary.metadata.etcd.ssl.key.location", ConfigType.String, null, "PEM file of the client certificate's private key, when tributary.metadata.etcd.ssl.keystore.location does not hold it.",
            Bind: (c, v) => c with { EtcdSslKeyLocation = v }),
        Broker("tributary.metadata.etcd.ssl.key.password", ConfigType.String, null, "Password of the client certificate's private key (an encrypted PEM key).", Sensitive: true,
            Bind: (c, v) => c with { EtcdSslKeyPassword = v }),
        Broker("tributary.metadata.etcd.username", ConfigType.String, null, "etcd user the broker authenticates as (etcd auth enabled): its token goes with every call and is renewed when etcd rejects it. Its role needs read and write on the prefix's range.",
            Bind: (c, v) => c with { EtcdUsername = v }),
        Broker("tributary.metadata.etcd.password", ConfigType.String, null, "Password of tributary.metadata.etcd.username.", Sensitive: true,
            Bind: (c, v) => c with { EtcdPassword = v }),
        Broker("tributary.cluster.crash.detection.enable", ConfigType.Boolean, "true", "Cluster mode: the controller holds an idle connection to every broker's inter-broker listener (the others one to the controller); when one ends and the broker's port then refuses two connects 100 ms apart (its process is gone), its etcd lease is revoked so its partitions get new leaders at once. A paused or unreachable broker still waits for its lease to end.",
            Bind: (c, v) => c with { CrashDetectionEnable = v == "true" }),
        Broker("listeners", ConfigType.String, "PLAINTEXT://127.0.0.1:9092", "NAME://host:port,… to listen on, each name's protocol from listener.security.protocol.map; the host is an IP address or a host name.",
            Check: v => Listeners.Parse("listeners", v).Error,
            Bind: (c, v) => c with { Listeners = Listeners.Parse("listeners", v).Endpoints! }),
        Broker("advertised.listeners", ConfigType.String, null, "NAME://host:port,… clients of each listener are told to connect to; a listener not named here advertises its bound address.",
            Check: v => Listeners.Parse("advertised.listeners", v).Error,
            Bind: (c, v) => c with { AdvertisedListeners = Listeners.Parse("advertised.listeners", v).Endpoints! }),
        Broker("listener.security.protocol.map", ConfigType.String, Listeners.DefaultProtocolMap, "NAME:PROTOCOL,…: each listener's security protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
            Check: v => Listeners.ParseProtocolMap(v).Error,
            Bind: (c, v) => c with { SecurityProtocolMap = Listeners.ParseProtocolMap(v).Map! }),
        Broker("sasl.enabled.mechanisms", ConfigType.List, "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512", "SASL mechanisms SASL listeners offer (Kafka's default is GSSAPI, which Tributary lacks).", Allowed: [.. SaslMechanisms.Supported],
            Bind: (c, v) => c with { SaslEnabledMechanisms = [.. ConfigDefinition.Items(v)] }),
        Broker(Listeners.PerListenerPrefix + "<listener>.sasl.enabled.mechanisms", ConfigType.List, null, "The SASL mechanisms of one listener (its name in lower case), instead of sasl.enabled.mechanisms.", Allowed: [.. SaslMechanisms.Supported]),
        Broker(Listeners.PerListenerPrefix + "<listener>.plain.sasl.jaas.config", ConfigType.String, null, "PLAIN users of one listener: org.apache.kafka.common.security.plain.PlainLoginModule required user_NAME=\"password\" …;",
            Sensitive: true, Check: v => PlainJaasConfig.Parse(v).Error is { } error ? "a listener's plain.sasl.jaas.config: " + error : null),
        Broker(Listeners.PerListenerPrefix + "<listener>.<mechanism>.sasl.jaas.config", ConfigType.String, null, "The broker's own SCRAM login on one listener (mechanism in lower case), for inter-broker connections: org.apache.kafka.common.security.scram.ScramLoginModule required username=\"…\" password=\"…\";",
            Sensitive: true, Check: v => JaasConfig.Parse(v, JaasConfig.ScramLoginModule).Error is { } error ? "a listener's SCRAM sasl.jaas.config: " + error : null),
        Broker("inter.broker.listener.name", ConfigType.String, null, "Cluster mode: the listener brokers connect to each other on (replica fetches, transaction markers, share-group state); every broker must register it. Excludes security.inter.broker.protocol.",
            Bind: (c, v) => c with { InterBrokerListenerName = v.ToUpperInvariant() }),
        Broker("security.inter.broker.protocol", ConfigType.String, "PLAINTEXT", "Cluster mode, without inter.broker.listener.name: the inter-broker listener is the one named as this protocol.", Allowed: [.. Listeners.Protocols],
            Bind: (c, v) => c with { SecurityInterBrokerProtocol = v }),
        Broker("sasl.mechanism.inter.broker.protocol", ConfigType.String, SaslMechanisms.Plain, "SASL mechanism of inter-broker connections on a SASL listener, with the broker's login from that listener's <mechanism>.sasl.jaas.config (Kafka's default is GSSAPI, which Tributary lacks).",
            Allowed: [SaslMechanisms.Plain, SaslMechanisms.ScramSha256, SaslMechanisms.ScramSha512], Bind: (c, v) => c with { SaslMechanismInterBrokerProtocol = v }),
        Broker("connection.failed.authentication.delay.ms", ConfigType.Int, "100", "A failed authentication is answered, and its connection closed, this long after it failed.", Min: 0,
            Bind: (c, v) => c with { ConnectionFailedAuthenticationDelayMs = Int(v) }),
        Broker("sasl.server.max.receive.size", ConfigType.Int, "524288", "Largest request a client may send before it has authenticated; a larger one closes the connection.", Min: 1,
            Bind: (c, v) => c with { SaslServerMaxReceiveSize = Int(v) }),
        // TLS of SSL and SASL_SSL listeners, each key also per listener (listener.name.<l>.ssl.…), which wins. The
        // keystore and truststore keys change at runtime (Kafka's dynamic keystore update): new handshakes use them.
        .. Ssl("ssl.keystore.type", "JKS", "Format of the keystore: PKCS12, PEM, or JKS (read as PKCS12; a Java-only JKS file is refused).", Allowed: SslKeystore.Types, Dynamic: true),
        .. Ssl("ssl.keystore.location", null, "The keystore file: the listener's certificate chain and private key.", Dynamic: true),
        .. Ssl("ssl.keystore.password", null, "Password of the keystore file (PKCS12) or of its private key (PEM).", Sensitive: true, Dynamic: true),
        .. Ssl("ssl.key.password", null, "Password of the private key (an encrypted PEM key), when it differs from the keystore's.", Sensitive: true, Dynamic: true),
        .. Ssl("ssl.keystore.certificate.chain", null, "Inline PEM certificate chain, leaf first (with ssl.keystore.type=PEM and ssl.keystore.key).", Sensitive: true, Dynamic: true),
        .. Ssl("ssl.keystore.key", null, "Inline PEM private key (with ssl.keystore.type=PEM and ssl.keystore.certificate.chain).", Sensitive: true, Dynamic: true),
        .. Ssl("ssl.truststore.type", "JKS", "Format of the truststore: PKCS12, PEM, or JKS (read as PKCS12).", Allowed: SslKeystore.Types, Dynamic: true),
        .. Ssl("ssl.truststore.location", null, "The truststore file: the certificate authorities client certificates must chain to (default: the system's).", Dynamic: true),
        .. Ssl("ssl.truststore.password", null, "Password of the truststore file.", Sensitive: true, Dynamic: true),
        .. Ssl("ssl.truststore.certificates", null, "Inline PEM trusted certificates (with ssl.truststore.type=PEM).", Sensitive: true, Dynamic: true),
        .. Ssl("ssl.client.auth", "none", "Client certificates: none, requested (checked if sent) or required (mTLS; a connection without a trusted one is closed).", Allowed: ["none", "requested", "required"]),
        .. Ssl("ssl.enabled.protocols", "TLSv1.2,TLSv1.3", "TLS versions the listener accepts.", Type: ConfigType.List, Allowed: ["TLSv1.2", "TLSv1.3"]),
        .. Ssl("ssl.principal.mapping.rules", SslPrincipalMapper.Default, "RULE:pattern/replacement/[LU],…,DEFAULT: the principal name of a client certificate's subject (RFC 2253); User:ANONYMOUS without one.",
            Check: v => SslPrincipalMapper.Parse(v).Error),
        Broker(AdminListeners.Key, ConfigType.List, "http://127.0.0.1:9644", "http://host:port,… of the HTTP admin listener (/metrics, /health/live, /health/ready); empty for none (the embedded broker's default). Port 0 picks a free port; another interface than loopback must be named (0.0.0.0 for all).",
            Check: v => AdminListeners.Parse(v).Error, Bind: (c, v) => c with { AdminListeners = AdminListeners.Parse(v).Urls! }),
        Broker("tributary.ssl.handshake.timeout.ms", ConfigType.Long, "10000", "A TLS handshake not complete within this is closed (a client that connects and stalls, or speaks plaintext to a TLS port).", Min: 1,
            Bind: (c, v) => c with { SslHandshakeTimeoutMs = Long(v) }),
        Broker(Listeners.PerListenerPrefix + "<listener>.oauthbearer.sasl.jaas.config", ConfigType.String, null, "Needed for OAUTHBEARER on one listener: " + OAuthBearerConfig.LoginModule + " required; with the unsecured validator, its options unsecuredValidatorPrincipalClaimName, …ScopeClaimName, …RequiredScope, …AllowableClockSkewMs.",
            Sensitive: true, Check: v => OAuthBearerConfig.CheckJaas(v)),
        Broker(Listeners.PerListenerPrefix + "<listener>.oauthbearer.sasl.server.callback.handler.class", ConfigType.String, null, "How one listener checks OAUTHBEARER tokens: unset, unsecured JWS (alg none, for development); Kafka's OAuthBearerValidatorCallbackHandler, JWTs signed by a key of sasl.oauthbearer.jwks.endpoint.url (KIP-768).",
            Allowed: [UnsecuredJwsValidator.HandlerClass, .. SignedJwtValidator.HandlerClasses]),
        Broker("sasl.oauthbearer.jwks.endpoint.url", ConfigType.String, null, "file: URL of the JWKS whose RSA and EC keys sign OAUTHBEARER tokens, read when the broker starts (http(s) is not supported).",
            Bind: (c, v) => c with { OAuthBearer = c.OAuthBearer with { JwksEndpointUrl = v } }),
        Broker("sasl.oauthbearer.expected.audience", ConfigType.List, null, "When set, a signed token's aud must include one of these.",
            Bind: (c, v) => c with { OAuthBearer = c.OAuthBearer with { ExpectedAudience = [.. ConfigDefinition.Items(v)] } }),
        Broker("sasl.oauthbearer.expected.issuer", ConfigType.String, null, "When set, a signed token's iss must be this.",
            Bind: (c, v) => c with { OAuthBearer = c.OAuthBearer with { ExpectedIssuer = v } }),
        Broker("sasl.oauthbearer.sub.claim.name", ConfigType.String, "sub", "The claim of a signed token that names its principal.",
            Bind: (c, v) => c with { OAuthBearer = c.OAuthBearer with { SubClaimName = v } }),
        Broker("sasl.oauthbearer.scope.claim.name", ConfigType.String, "scope", "The claim of a signed token that holds its scope.",
            Bind: (c, v) => c with { OAuthBearer = c.OAuthBearer with { ScopeClaimName = v } }),
        Broker("sasl.oauthbearer.clock.skew.seconds", ConfigType.Int, "30", "Seconds a signed token's exp and nbf may be off from the broker's clock.", Min: 0,
            Bind: (c, v) => c with { OAuthBearer = c.OAuthBearer with { ClockSkewSeconds = Int(v) } }),
        Broker("connections.max.reauth.ms", ConfigType.Long, "0", "When positive, a SASL session lasts at most this long (KIP-368): the client is told so and must re-authenticate, or its next request closes the connection. An OAUTHBEARER session also ends at the token's exp.",
            Bind: (c, v) => c with { ConnectionsMaxReauthMs = Long(v) }),
        Broker(Listeners.PerListenerPrefix + "<listener>.connections.max.reauth.ms", ConfigType.Long, null, "connections.max.reauth.ms of one listener."),
        Broker(Listeners.PerListenerPrefix + "<listener>.<mechanism>.connections.max.reauth.ms", ConfigType.Long, null, "connections.max.reauth.ms of one mechanism (its name in lower case) on one listener."),
        Broker("authorizer.class.name", ConfigType.String, "", "The authorizer: empty for none (every request allowed) or org.apache.kafka.metadata.authorizer.StandardAuthorizer (ACLs from CreateAcls, kept in the metadata).",
            Allowed: ["", Authorizer.StandardAuthorizerClass], Bind: (c, v) => c with { AuthorizerClassName = v }),
        Broker("super.users", ConfigType.String, "", "Principals the authorizer allows everything, separated by semicolons: User:admin;User:ops.",
            Bind: (c, v) => c with { SuperUsers = v.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal) }),
        Broker("allow.everyone.if.no.acl.found", ConfigType.Boolean, "false", "With an authorizer, allow every principal on a resource that has no ACL at all.",
            Bind: (c, v) => c with { AllowEveryoneIfNoAclFound = v == "true" }),
        Broker("log.dirs", ConfigType.String, "./data", "Directory of the metadata and the partition logs.", Bind: (c, v) => c with { LogDir = v }),
        Broker("log.dir", ConfigType.String, null, "Used when log.dirs is not set.", SynonymOf: "log.dirs"),
        Broker("tributary.storage", ConfigType.String, "disk", "memory: a broker that keeps nothing on disk.", Allowed: ["disk", "memory"],
            Bind: (c, v) => c with { InMemoryStorage = v == "memory" }),
        Broker("tributary.log.cache.drop.behind.bytes", ConfigType.Long, "-1", "With N ≥ 0, written-out segment bytes N bytes (at least 1 MiB) behind the newest are dropped from the page cache; -1 leaves them to the kernel.", Min: -1,
            Bind: (c, v) => c with { LogCacheDropBehindBytes = Long(v) }),
        Broker("tributary.log.cache.drop.after.read", ConfigType.String, "auto", "Drop written-out segment bytes every recent reader has fetched past from the page cache; auto: only on a VM whose host takes back freed memory.", Allowed: ["auto", "true", "false"],
            Bind: (c, v) => c with { LogCacheDropAfterRead = v == "auto" ? null : v == "true" }),
        Broker("tributary.log.open.files.max", ConfigType.Int, "-1", "Descriptors the log's files (segments, indexes, checkpoints) hold at most; the least recently used are closed and reopened on use. -1: half the process's open-file soft limit (ulimit -n), at least 64.", Min: -1,
            Check: v => v == "0" ? "tributary.log.open.files.max must be -1 (derived from the open-file limit) or at least 1" : null,
            Bind: (c, v) => c with { LogOpenFilesMax = Int(v) }),
        Broker("num.partitions", ConfigType.Int, "1", "Partitions of an auto-created topic, and of CreateTopics asking for -1.", Min: 1, Max: BrokerConfig.PartitionsPerTopicMax,
            Bind: (c, v) => c with { NumPartitions = Int(v) }),
        Broker("default.replication.factor", ConfigType.Int, "1", "Replication factor of new topics in cluster mode (at most the live brokers); a single node has one replica.", Min: 1, Max: short.MaxValue,
            Bind: (c, v) => c with { DefaultReplicationFactor = Int(v) }),
        Broker("offsets.topic.replication.factor", ConfigType.Int, "3", "Replicas of __consumer_offsets in cluster mode; FindCoordinator answers COORDINATOR_NOT_AVAILABLE until this many brokers are live.", Min: 1, Max: short.MaxValue,
            Bind: (c, v) => c with { OffsetsTopicReplicationFactor = Int(v) }),
        Broker("offsets.topic.num.partitions", ConfigType.Int, "-1", "Partitions of __consumer_offsets when it is created (fixed afterwards, as in Kafka): a group's coordinator is the leader of partition abs(hash(group id)) % partitions. -1: Kafka's 50 in cluster mode, 1 on a single node (which leads every partition anyway; each one costs open files and start time).", Min: -1, Max: BrokerConfig.PartitionsPerTopicMax,
            Check: v => v == "0" ? "offsets.topic.num.partitions must be -1 or at least 1" : null,
            Bind: (c, v) => c with { OffsetsTopicNumPartitions = Int(v) }),
        Broker("transaction.state.log.num.partitions", ConfigType.Int, "-1", "Partitions of __transaction_state when it is created (fixed afterwards, as in Kafka): a transactional id's coordinator is the leader of partition abs(hash(id)) % partitions. -1: Kafka's 50 in cluster mode, 1 on a single node.", Min: -1, Max: BrokerConfig.PartitionsPerTopicMax,
            Check: v => v == "0" ? "transaction.state.log.num.partitions must be -1 or at least 1" : null,
            Bind: (c, v) => c with { TransactionStateLogNumPartitions = Int(v) }),
        Broker("transaction.state.log.replication.factor", ConfigType.Int, "3", "Replicas of __transaction_state in cluster mode; FindCoordinator answers COORDINATOR_NOT_AVAILABLE until this many brokers are live.", Min: 1, Max: short.MaxValue,
            Bind: (c, v) => c with { TransactionStateLogReplicationFactor = Int(v) }),
        Broker("transaction.state.log.min.isr", ConfigType.Int, "2", "min.insync.replicas of __transaction_state in cluster mode.", Min: 1,
            Bind: (c, v) => c with { TransactionStateLogMinIsr = Int(v) }),
        Broker("share.coordinator.state.topic.num.partitions", ConfigType.Int, "-1", "Partitions of __share_group_state when it is created (fixed afterwards, as in Kafka): a share partition's state lives in partition abs(hash(\"group:topicId:partition\")) % partitions, whose leader is its share coordinator. -1: Kafka's 50 in cluster mode, 1 on a single node.", Min: -1, Max: BrokerConfig.PartitionsPerTopicMax,
            Check: v => v == "0" ? "share.coordinator.state.topic.num.partitions must be -1 or at least 1" : null,
            Bind: (c, v) => c with { ShareCoordinatorStateTopicNumPartitions = Int(v) }),
        Broker("share.coordinator.state.topic.replication.factor", ConfigType.Int, "3", "Replicas of __share_group_state in cluster mode; share partitions answer COORDINATOR_NOT_AVAILABLE until this many brokers are live.", Min: 1, Max: short.MaxValue,
            Bind: (c, v) => c with { ShareCoordinatorStateTopicReplicationFactor = Int(v) }),
        Broker("share.coordinator.state.topic.min.isr", ConfigType.Int, "2", "min.insync.replicas of __share_group_state in cluster mode.", Min: 1,
            Bind: (c, v) => c with { ShareCoordinatorStateTopicMinIsr = Int(v) }),
        Broker("auto.create.topics.enable", ConfigType.Boolean, "true", "Create a topic when Metadata asks for one that does not exist.",
            Bind: (c, v) => c with { AutoCreateTopicsEnable = v == "true" }),
        Broker("delete.topic.enable", ConfigType.Boolean, "true", "Allow DeleteTopics.", Bind: (c, v) => c with { DeleteTopicEnable = v == "true" }),
        Broker("message.max.bytes", ConfigType.Int, "1048588", "Largest record batch a producer may append (topic: max.message.bytes).", Min: 0),
        Broker("socket.request.max.bytes", ConfigType.Int, "104857600", "Largest request frame; a larger one closes the connection.", Min: 1024,
            Bind: (c, v) => c with { SocketRequestMaxBytes = Int(v) }),
        Broker("max.connections", ConfigType.Int, "1000", "Connections the broker holds at once; more are closed at accept.", Min: 1,
            Bind: (c, v) => c with { ConnectionsMax = Int(v) }),
        Broker(Listeners.PerListenerPrefix + "<listener>.max.connections", ConfigType.Int, null, "Connections one listener (its name in lower case) holds at once; more are closed at accept, other listeners are not affected.", Min: 0),
        Broker("max.connections.per.ip", ConfigType.Int, "2147483647", "Connections one client address may hold (the default is no limit).", Min: 0,
            Bind: (c, v) => c with { ConnectionsMaxPerIp = Int(v) }),
        Broker("max.connections.per.ip.overrides", ConfigType.String, "", "host:count,…: per host name or IP address, its own limit instead of max.connections.per.ip.",
            Check: v => BrokerConfig.ParsePerIpOverrides(v).Error,
            Bind: (c, v) => c with { ConnectionsMaxPerIpOverrides = BrokerConfig.ParsePerIpOverrides(v).Overrides }),
        Broker("max.connection.creation.rate", ConfigType.Int, "2147483647", "New connections per second the broker accepts across its listeners; past it accepting waits (KIP-612).", Min: 1,
            Bind: (c, v) => c with { ConnectionCreationRateMax = Int(v) }),
        Broker(Listeners.PerListenerPrefix + "<listener>.max.connection.creation.rate", ConfigType.Int, null, "New connections per second one listener (its name in lower case) accepts; past it accepting waits.", Min: 1),
        Broker("quota.window.num", ConfigType.Int, "11", "Samples a client's produce, fetch and request rates are measured over.", Min: 1,
            Bind: (c, v) => c with { QuotaWindowNum = Int(v) }),
        Broker("quota.window.size.seconds", ConfigType.Int, "1", "Length of one sample of a client's rates; also the longest throttle one response earns.", Min: 1,
            Bind: (c, v) => c with { QuotaWindowSizeSeconds = Int(v) }),
        Broker("controller.quota.window.num", ConfigType.Int, "11", "Samples of controller_mutation_rate: its burst is the rate times samples times the window.", Min: 1,
            Bind: (c, v) => c with { ControllerQuotaWindowNum = Int(v) }),
        Broker("controller.quota.window.size.seconds", ConfigType.Int, "1", "Length of one sample of controller_mutation_rate.", Min: 1,
            Bind: (c, v) => c with { ControllerQuotaWindowSizeSeconds = Int(v) }),
        Broker("connections.max.idle.ms", ConfigType.Long, "600000", "A connection silent this long between requests is closed.", Min: 1,
            Bind: (c, v) => c with { ConnectionsMaxIdleMs = Long(v) }),
        Broker("tributary.partial.request.timeout.ms", ConfigType.Long, "30000", "A request whose first bytes are in must arrive whole within this, or its connection is closed (clients' request.timeout.ms default).", Min: 1,
            Bind: (c, v) => c with { PartialRequestTimeoutMs = Long(v) }),
        Broker("queued.max.request.bytes", ConfigType.Long, "268435456", "Bytes of requests received and not yet handled, across connections, before connections stop reading; 0 or less: unbounded (Kafka's default, -1).", Min: -1,
            Bind: (c, v) => c with { QueuedMaxRequestBytes = Long(v) }),
        Broker("tributary.decompression.memory.bytes", ConfigType.Long, "268435456", "Scratch memory all produce requests together hold to decompress batches; a batch that finds no room within 5 s gets REQUEST_TIMED_OUT.", Min: 1048576,
            Bind: (c, v) => c with { DecompressionMemoryBytes = Long(v) }),
        Broker("log.retention.ms", ConfigType.Long, null, "Default retention.ms of topics; -1 keeps forever.", Min: -1),
        Broker("log.retention.minutes", ConfigType.Int, null, "log.retention.ms in minutes, used when log.retention.ms is not set.", Min: -1, SynonymOf: "log.retention.ms", UnitScale: 60_000),
        Broker("log.retention.hours", ConfigType.Int, "168", "log.retention.ms in hours, used when neither log.retention.ms nor log.retention.minutes is set.", Min: -1, SynonymOf: "log.retention.ms", UnitScale: 3_600_000),
        Broker("log.retention.bytes", ConfigType.Long, "-1", "Default retention.bytes of topics; -1 is no limit.", Min: -1),
        Broker("log.retention.check.interval.ms", ConfigType.Long, "300000", "How often retention deletes old segments.", Min: 1,
            Bind: (c, v) => c with { LogRetentionCheckIntervalMs = Long(v) }),
        Broker("log.segment.bytes", ConfigType.Int, "1073741824", "Default segment.bytes of topics.", Min: LogConfig.SegmentBytesMin),
        Broker("log.roll.ms", ConfigType.Long, null, "Default segment.ms of topics.", Min: 1),
        Broker("log.roll.hours", ConfigType.Int, "168", "log.roll.ms in hours, used when log.roll.ms is not set.", Min: 1, SynonymOf: "log.roll.ms", UnitScale: 3_600_000),
        Broker("log.flush.interval.messages", ConfigType.Long, LongMax, "Default flush.messages of topics: 1 fsyncs before every acknowledgement.", Min: 1),
        Broker("log.flush.interval.ms", ConfigType.Long, null, "Default flush.ms of topics.", Min: 0),
        Broker("log.flush.scheduler.interval.ms", ConfigType.Long, "1000", "How often logs are checked against flush.ms.", Min: 1,
            Bind: (c, v) => c with { LogFlushSchedulerIntervalMs = Long(v) }),
        Broker("log.flush.offset.checkpoint.interval.ms", ConfigType.Int, "60000", "How often segments rolled past are flushed and each log's recovery point is checkpointed; after a crash only segments past it are recovered.", Min: 0,
            Bind: (c, v) => c with { LogFlushOffsetCheckpointIntervalMs = Int(v) }),
        Broker("log.cleaner.enable", ConfigType.Boolean, "true", "Run the log cleaner, which compacts topics whose cleanup.policy includes compact.",
            Bind: (c, v) => c with { LogCleanerEnable = v == "true" }),
        Broker("log.cleaner.threads", ConfigType.Int, "1", "Threads that clean logs, each one log at a time (0: none).", Min: 0, Max: BrokerConfig.LogCleanerThreadsMax,
            Bind: (c, v) => c with { LogCleanerThreads = Int(v) }),
        Broker("log.cleaner.dedupe.buffer.size", ConfigType.Long, "134217728", "Memory all cleaner threads together use for their key → offset maps; a log with more keys is cleaned in several passes.", Min: 1048576,
            Bind: (c, v) => c with { LogCleanerDedupeBufferSize = Long(v) }),
        Broker("log.cleaner.io.max.bytes.per.second", ConfigType.Double, DoubleMax, "Bytes per second all cleaner threads together read and write at most.", Min: 1,
            Bind: (c, v) => c with { LogCleanerIoMaxBytesPerSecond = Double(v) }),
        Broker("log.cleaner.backoff.ms", ConfigType.Long, "15000", "How long a cleaner thread sleeps when no log needs cleaning.", Min: 0,
            Bind: (c, v) => c with { LogCleanerBackoffMs = Long(v) }),
        Broker("log.cleaner.delete.retention.ms", ConfigType.Long, "86400000", "Default delete.retention.ms of topics.", Min: 0),
        Broker("log.cleaner.min.compaction.lag.ms", ConfigType.Long, "0", "Default min.compaction.lag.ms of topics.", Min: 0),
        Broker("log.cleaner.max.compaction.lag.ms", ConfigType.Long, LongMax, "Default max.compaction.lag.ms of topics.", Min: 1),
        Broker("log.cleaner.min.cleanable.ratio", ConfigType.Double, "0.5", "Default min.cleanable.dirty.ratio of topics.", Min: 0, Max: 1),
        Broker("log.message.timestamp.type", ConfigType.String, "CreateTime", "Default message.timestamp.type of topics.", Allowed: TimestampTypes),
        Broker("log.message.timestamp.before.max.ms", ConfigType.Long, LongMax, "Default message.timestamp.before.max.ms of topics.", Min: 0),
        Broker("log.message.timestamp.after.max.ms", ConfigType.Long, "3600000", "Default message.timestamp.after.max.ms of topics.", Min: 0),
        Broker("log.index.interval.bytes", ConfigType.Int, "4096", "Default index.interval.bytes of topics.", Min: 0),
        Broker("log.index.size.max.bytes", ConfigType.Int, "10485760", "Default segment.index.bytes of topics.", Min: 4),
        Broker("log.roll.jitter.ms", ConfigType.Long, null, "Default segment.jitter.ms of topics.", Min: 0),
        Broker("log.roll.jitter.hours", ConfigType.Int, "0", "log.roll.jitter.ms in hours, used when log.roll.jitter.ms is not set.", Min: 0, SynonymOf: "log.roll.jitter.ms", UnitScale: 3_600_000),
        Broker("log.segment.delete.delay.ms", ConfigType.Long, "60000", "Default file.delete.delay.ms of topics.", Min: 0),
        Broker("log.preallocate", ConfigType.Boolean, "false", "Default preallocate of topics."),
        Broker("log.local.retention.ms", ConfigType.Long, "-2", "Default local.retention.ms of topics.", Min: -2),
        Broker("log.local.retention.bytes", ConfigType.Long, "-2", "Default local.retention.bytes of topics.", Min: -2),
        Broker("compression.type", ConfigType.String, "producer", "Default compression.type of topics.", Allowed: CompressionTypes),
        Broker("compression.gzip.level", ConfigType.Int, "-1", "Default compression.gzip.level of topics.", Min: -1, Max: 9, Check: GzipLevel),
        Broker("compression.lz4.level", ConfigType.Int, "9", "Default compression.lz4.level of topics.", Min: 1, Max: 17),
        Broker("compression.zstd.level", ConfigType.Int, "3", "Default compression.zstd.level of topics.", Min: -131072, Max: 22),
        Broker("min.insync.replicas", ConfigType.Int, "1", "Default min.insync.replicas of topics.", Min: 1),
        // Replication between brokers (cluster mode); a single node reads none of these.
        Broker("replica.lag.time.max.ms", ConfigType.Long, "30000", "A follower that has not caught up with its leader's log end for this long leaves the in-sync replicas.", Min: 1,
            Bind: (c, v) => c with { ReplicaLagTimeMaxMs = Long(v) }),
        Broker("replica.fetch.wait.max.ms", ConfigType.Int, "500", "Longest a follower's fetch waits at its leader for new records.", Min: 0,
            Bind: (c, v) => c with { ReplicaFetchWaitMaxMs = Int(v) }),
        Broker("replica.fetch.max.bytes", ConfigType.Int, "1048576", "Record bytes a follower asks for per partition in one fetch (at least one batch comes whatever its size).", Min: 0,
            Bind: (c, v) => c with { ReplicaFetchMaxBytes = Int(v) }),
        Broker("replica.fetch.response.max.bytes", ConfigType.Int, "10485760", "Record bytes a follower asks for in one fetch, all partitions together.", Min: 0,
            Bind: (c, v) => c with { ReplicaFetchResponseMaxBytes = Int(v) }),
        Broker("replica.fetch.backoff.ms", ConfigType.Int, "1000", "Time a follower waits after a failed fetch from its leader before it tries again.", Min: 0,
            Bind: (c, v) => c with { ReplicaFetchBackoffMs = Int(v) }),
        Broker("num.replica.fetchers", ConfigType.Int, "1", "Fetch loops per leader a follower runs; Tributary runs one whatever the value.", Min: 1),
        Broker("unclean.leader.election.enable", ConfigType.Boolean, "false", "Default unclean.leader.election.enable of topics."),
        Broker("controlled.shutdown.enable", ConfigType.Boolean, "true", "In cluster mode, a clean stop first asks the controller to move this broker's leaderships to other in-sync replicas and drop it from ISRs.",
            Bind: (c, v) => c with { ControlledShutdownEnable = v == "true" }),
        Broker("controlled.shutdown.max.retries", ConfigType.Int, "3", "Rounds of controlled.shutdown.retry.backoff.ms a clean stop waits for its leaderships to move before it goes anyway.", Min: 0,
            Bind: (c, v) => c with { ControlledShutdownMaxRetries = Int(v) }),
        Broker("controlled.shutdown.retry.backoff.ms", ConfigType.Long, "5000", "Length of one round of a controlled shutdown's wait.", Min: 0,
            Bind: (c, v) => c with { ControlledShutdownRetryBackoffMs = Long(v) }),
        Broker("auto.leader.rebalance.enable", ConfigType.Boolean, "true", "In cluster mode, the controller moves leadership back to each partition's preferred replica (its first) when it is live and in sync and its broker leads too few of the partitions it prefers.",
            Bind: (c, v) => c with { AutoLeaderRebalanceEnable = v == "true" }),
        Broker("leader.imbalance.check.interval.seconds", ConfigType.Long, "300", "How often the controller checks leadership against the preferred replicas.", Min: 1,
            Bind: (c, v) => c with { LeaderImbalanceCheckIntervalSeconds = Long(v) }),
        Broker("leader.imbalance.per.broker.percentage", ConfigType.Int, "10", "Share of the partitions a broker prefers that others may lead before the controller moves them back.", Min: 0, Max: 100,
            Bind: (c, v) => c with { LeaderImbalancePerBrokerPercentage = Int(v) }),
        Broker("max.incremental.fetch.session.cache.slots", ConfigType.Int, "1000", "Incremental fetch sessions (KIP-227) the broker keeps at once; 0 answers every fetch without a session.", Min: 0,
            Bind: (c, v) => c with { FetchSessionCacheSlots = Int(v) }),
        Broker("group.max.size", ConfigType.Int, "2147483647", "Members one group may have.", Min: 1, Bind: (c, v) => c with { GroupMaxSize = Int(v) }),
        Broker("group.min.session.timeout.ms", ConfigType.Int, "6000", "Shortest session timeout a classic group member may ask for.", Min: 0,
            Bind: (c, v) => c with { GroupMinSessionTimeoutMs = Int(v) }),
        Broker("group.max.session.timeout.ms", ConfigType.Int, "1800000", "Longest session timeout a classic group member may ask for.", Min: 0,
            Bind: (c, v) => c with { GroupMaxSessionTimeoutMs = Int(v) }),
        Broker("group.initial.rebalance.delay.ms", ConfigType.Int, "3000", "How long an empty classic group waits for more members before its first rebalance (0 in the embedded broker).", Min: 0, Max: BrokerConfig.GroupInitialRebalanceDelayMsMax,
            Bind: (c, v) => c with { GroupInitialRebalanceDelayMs = Int(v) }),
        Broker("group.consumer.heartbeat.interval.ms", ConfigType.Int, "5000", "Heartbeat interval of consumer-protocol (KIP-848) group members.", Min: 1,
            Bind: (c, v) => c with { GroupConsumerHeartbeatIntervalMs = Int(v) }),
        Broker("group.consumer.session.timeout.ms", ConfigType.Int, "45000", "Session timeout of consumer-protocol (KIP-848) group members.", Min: 1,
            Bind: (c, v) => c with { GroupConsumerSessionTimeoutMs = Int(v) }),
        Broker("group.share.heartbeat.interval.ms", ConfigType.Int, "5000", "Heartbeat interval of share group (KIP-932) members.", Min: 1),
        Broker("group.share.session.timeout.ms", ConfigType.Int, "45000", "Session timeout of share group (KIP-932) members.", Min: 1),
        Broker("group.share.record.lock.duration.ms", ConfigType.Int, "30000", "How long a share group member holds the records it acquired before they become available again.", Min: 1000, Max: 3600000),
        Broker("group.share.delivery.count.limit", ConfigType.Int, "5", "Deliveries of a record to a share group after which it is archived instead of delivered again.", Min: 2, Max: 10),
        Broker("group.share.partition.max.record.locks", ConfigType.Int, "2000", "Records of one share partition in flight (acquired or awaiting redelivery) before no more are acquired.", Min: 100, Max: 10000),
        Broker("group.share.max.size", ConfigType.Int, "200", "Members one share group may have.", Min: 1, Max: 1000),
        Broker("group.share.max.share.sessions", ConfigType.Int, "2000", "Share sessions (ShareFetch) kept at once; one more is refused with SHARE_SESSION_LIMIT_REACHED.", Min: 1),
        Broker("offsets.retention.minutes", ConfigType.Int, "10080", "How long committed offsets of an empty group are kept.", Min: 1,
            Bind: (c, v) => c with { OffsetsRetentionMs = Long(v) * 60_000 }),
        Broker("transaction.max.timeout.ms", ConfigType.Int, "900000", "Longest transaction timeout a producer may ask for.", Min: 1,
            Bind: (c, v) => c with { TransactionMaxTimeoutMs = Int(v) }),

        Topic(TopicConfigs.CleanupPolicy, ConfigType.List, "delete", "delete (retention), compact (the log cleaner keeps the latest record per key; records without a key are refused) or both.", Allowed: ["delete", "compact"],
            Bind: (s, v) => s with
            {
                Compact = ConfigDefinition.Items(v).Contains("compact"),
                Log = s.Log with { Compact = ConfigDefinition.Items(v).Contains("compact"), Delete = ConfigDefinition.Items(v).Contains("delete") },
            }),
        Topic(TopicConfigs.RetentionMs, ConfigType.Long, Ms7Days, "Delete segments whose newest record is older than this; -1 keeps forever.", Min: -1, BrokerKey: "log.retention.ms",
            Bind: (s, v) => s with { Log = s.Log with { RetentionMs = Long(v) } }),
        Topic(TopicConfigs.RetentionBytes, ConfigType.Long, "-1", "Delete the oldest segments while a partition is larger than this; -1 is no limit.", Min: -1, BrokerKey: "log.retention.bytes",
            Bind: (s, v) => s with { Log = s.Log with { RetentionBytes = Long(v) } }),
        Topic(TopicConfigs.SegmentBytes, ConfigType.Int, "1073741824", "Roll to a new segment before the active one grows past this.", Min: LogConfig.SegmentBytesMin, BrokerKey: "log.segment.bytes",
            Bind: (s, v) => s with { Log = s.Log with { SegmentBytes = Int(v) } }),
        Topic(TopicConfigs.SegmentMs, ConfigType.Long, Ms7Days, "Roll when the active segment's first append is this old.", Min: 1, BrokerKey: "log.roll.ms",
            Bind: (s, v) => s with { Log = s.Log with { SegmentMs = Long(v) } }),
        Topic(TopicConfigs.MaxMessageBytes, ConfigType.Int, "1048588", "Largest record batch a producer may append (else MESSAGE_TOO_LARGE).", Min: 0, BrokerKey: "message.max.bytes",
            Bind: (s, v) => s with { MaxMessageBytes = Int(v) }),
        Topic(TopicConfigs.MessageTimestampType, ConfigType.String, "CreateTime", "CreateTime keeps the producer's timestamps; LogAppendTime stamps batches with the broker's clock.", Allowed: TimestampTypes, BrokerKey: "log.message.timestamp.type",
            Bind: (s, v) => s with { LogAppendTime = v == "LogAppendTime" }),
        Topic(TopicConfigs.FlushMessages, ConfigType.Long, LongMax, "fsync once this many messages are unflushed; 1 fsyncs before every acknowledgement.", Min: 1, BrokerKey: "log.flush.interval.messages",
            Bind: (s, v) => s with { Log = s.Log with { FlushIntervalMessages = Long(v) } }),
        Topic(TopicConfigs.FlushMs, ConfigType.Long, LongMax, "fsync when the last flush is this old.", Min: 0, BrokerKey: "log.flush.interval.ms",
            Bind: (s, v) => s with { Log = s.Log with { FlushIntervalMs = Long(v) } }),
        Topic(TopicConfigs.CompressionType, ConfigType.String, "producer", "Codec batches are stored with, recompressed when the producer used another; producer keeps the producer's.", Allowed: CompressionTypes, BrokerKey: "compression.type",
            Bind: (s, v) => s with { Compression = Codec(v) }),
        Topic(TopicConfigs.DeleteRetentionMs, ConfigType.Long, "86400000", "How long the cleaner keeps a tombstone, or a marker whose transaction has no record left, after it first cleaned its batch.", Min: 0, BrokerKey: "log.cleaner.delete.retention.ms",
            Bind: (s, v) => s with { Log = s.Log with { DeleteRetentionMs = Long(v) } }),
        Topic(TopicConfigs.MinCompactionLagMs, ConfigType.Long, "0", "A record stays uncompacted at least this long after it was written.", Min: 0, BrokerKey: "log.cleaner.min.compaction.lag.ms",
            Bind: (s, v) => s with { Log = s.Log with { MinCompactionLagMs = Long(v) } }),
        Topic(TopicConfigs.MaxCompactionLagMs, ConfigType.Long, LongMax, "A log whose oldest uncleaned record is this old is cleaned whatever its dirty ratio.", Min: 1, BrokerKey: "log.cleaner.max.compaction.lag.ms",
            Bind: (s, v) => s with { Log = s.Log with { MaxCompactionLagMs = Long(v) } }),
        Topic(TopicConfigs.MinCleanableDirtyRatio, ConfigType.Double, "0.5", "Clean a log once uncleaned bytes are at least this share of its cleanable bytes.", Min: 0, Max: 1, BrokerKey: "log.cleaner.min.cleanable.ratio",
            Bind: (s, v) => s with { Log = s.Log with { MinCleanableDirtyRatio = Double(v) } }),
        Topic(TopicConfigs.MinInsyncReplicas, ConfigType.Int, "1", "In-sync replicas an acks=all produce needs (NOT_ENOUGH_REPLICAS); a single node is its only replica and accepts it.", Min: 1, BrokerKey: "min.insync.replicas",
            Bind: (s, v) => s with { MinInsyncReplicas = Int(v) }),
        Topic(TopicConfigs.MessageTimestampBeforeMaxMs, ConfigType.Long, LongMax, "A CreateTime record more than this older than the broker's clock is refused (INVALID_TIMESTAMP).", Min: 0, BrokerKey: "log.message.timestamp.before.max.ms",
            Bind: (s, v) => s with { MessageTimestampBeforeMaxMs = Long(v) }),
        Topic(TopicConfigs.MessageTimestampAfterMaxMs, ConfigType.Long, "3600000", "A CreateTime record more than this ahead of the broker's clock is refused (INVALID_TIMESTAMP).", Min: 0, BrokerKey: "log.message.timestamp.after.max.ms",
            Bind: (s, v) => s with { MessageTimestampAfterMaxMs = Long(v) }),
        Topic(TopicConfigs.IndexIntervalBytes, ConfigType.Int, "4096", "Log bytes between two offset-index entries.", Min: 0, BrokerKey: "log.index.interval.bytes",
            Bind: (s, v) => s with { Log = s.Log with { IndexIntervalBytes = Int(v) } }),
        Topic("segment.index.bytes", ConfigType.Int, "10485760", $"Size of a segment's offset index. {NoEffect}", Min: 4, BrokerKey: "log.index.size.max.bytes"),
        Topic("segment.jitter.ms", ConfigType.Long, "0", $"Random jitter subtracted from segment.ms. {NoEffect}", Min: 0, BrokerKey: "log.roll.jitter.ms"),
        Topic("file.delete.delay.ms", ConfigType.Long, "60000", "How long a segment that left the log (retention, DeleteRecords, compaction, truncation) keeps its files, renamed .deleted, and a deleted partition's directory, renamed <topic>-<partition>.<id>-delete, before they are removed; a fetch already reading them completes. 0 removes at once.", Min: 0, BrokerKey: "log.segment.delete.delay.ms",
            Bind: (s, v) => s with { Log = s.Log with { FileDeleteDelayMs = Long(v) } }),
        Topic("preallocate", ConfigType.Boolean, "false", $"Preallocate segment files. {NoEffect}", BrokerKey: "log.preallocate"),
        Topic("unclean.leader.election.enable", ConfigType.Boolean, "false", $"Elect an out-of-sync replica leader. {NoEffect} (one replica)", BrokerKey: "unclean.leader.election.enable"),
        Topic("compression.gzip.level", ConfigType.Int, "-1", $"Gzip level when compression.type=gzip. {NoEffect}", Min: -1, Max: 9, BrokerKey: "compression.gzip.level", Check: GzipLevel),
        Topic("compression.lz4.level", ConfigType.Int, "9", $"Lz4 level when compression.type=lz4. {NoEffect}", Min: 1, Max: 17, BrokerKey: "compression.lz4.level"),
        Topic("compression.zstd.level", ConfigType.Int, "3", $"Zstd level when compression.type=zstd. {NoEffect}", Min: -131072, Max: 22, BrokerKey: "compression.zstd.level"),
        Topic("leader.replication.throttled.replicas", ConfigType.List, "", $"partition:broker pairs, or *, throttled on the leader. {NoEffect} (no replication)", Check: ThrottledReplicas),
        Topic("follower.replication.throttled.replicas", ConfigType.List, "", $"partition:broker pairs, or *, throttled on followers. {NoEffect} (no replication)", Check: ThrottledReplicas),
        Topic("message.downconversion.enable", ConfigType.Boolean, "true", $"Deprecated in Kafka 4 (down-conversion no longer exists). {NoEffect}"),
        Topic("local.retention.ms", ConfigType.Long, "-2", $"Tiered storage: local retention (-2: retention.ms). {NoEffect}", Min: -2, BrokerKey: "log.local.retention.ms"),
        Topic("local.retention.bytes", ConfigType.Long, "-2", $"Tiered storage: local retention (-2: retention.bytes). {NoEffect}", Min: -2, BrokerKey: "log.local.retention.bytes"),
        Topic("remote.storage.enable", ConfigType.Boolean, "false", "Tiered storage; true is refused, as Kafka refuses it on a broker without tiered storage.",
            Check: v => v == "true" ? "remote.storage.enable=true: Tiered Storage functionality is disabled in the broker" : null),
        Topic("remote.log.copy.disable", ConfigType.Boolean, "false", $"Tiered storage: stop copying segments to remote storage. {NoEffect}"),
        Topic("remote.log.delete.on.disable", ConfigType.Boolean, "false", $"Tiered storage: delete remote segments when tiering is disabled. {NoEffect}"),

        // Kafka's group configs (GroupConfig): per-group overrides of group.consumer.* and group.share.* broker keys,
        // set by IncrementalAlterConfigs on a GROUP resource; the bounds are Kafka's group.*.min/max.* defaults.
        Group("consumer.session.timeout.ms", ConfigType.Int, "45000", "Session timeout of this consumer-protocol (KIP-848) group's members.", Min: 45000, Max: 60000, BrokerKey: "group.consumer.session.timeout.ms"),
        Group("consumer.heartbeat.interval.ms", ConfigType.Int, "5000", "Heartbeat interval of this consumer-protocol (KIP-848) group's members.", Min: 5000, Max: 15000, BrokerKey: "group.consumer.heartbeat.interval.ms"),
        Group("share.session.timeout.ms", ConfigType.Int, "45000", "Session timeout of this share group's members.", Min: 45000, Max: 60000, BrokerKey: "group.share.session.timeout.ms"),
        Group("share.heartbeat.interval.ms", ConfigType.Int, "5000", "Heartbeat interval of this share group's members.", Min: 5000, Max: 15000, BrokerKey: "group.share.heartbeat.interval.ms"),
        Group("share.record.lock.duration.ms", ConfigType.Int, "30000", "How long this share group's members hold acquired records.", Min: 15000, Max: 60000, BrokerKey: "group.share.record.lock.duration.ms"),
        Group("share.delivery.count.limit", ConfigType.Int, "5", "Deliveries of a record to this share group after which it is archived.", Min: 2, Max: 10, BrokerKey: "group.share.delivery.count.limit"),
        Group("share.partition.max.record.locks", ConfigType.Int, "2000", "Records of one of this share group's partitions in flight at most.", Min: 100, Max: 10000, BrokerKey: "group.share.partition.max.record.locks"),
        Group("share.auto.offset.reset", ConfigType.String, "latest", "Where a share group starts reading a partition it has no state for: earliest, latest or by_duration:<ISO-8601 duration> before now.",
            Check: v => ShareGroups.ShareAutoOffsetReset.Parse(v) is null ? $"share.auto.offset.reset={v}: expected earliest, latest or by_duration:<ISO-8601 duration>" : null),
        Group("share.isolation.level", ConfigType.String, "read_uncommitted", "read_committed: this share group skips aborted transactional records and waits for open transactions.", Allowed: ["read_committed", "read_uncommitted"]),
    ];

    /// <summary>
    /// Every row. A broker key that a topic or group key inherits from, and its synonyms, is dynamic: Kafka's
    /// dynamically updatable log configs are exactly the broker synonyms of topic configs.
    /// </summary>
    public static IReadOnlyList<ConfigDefinition> All { get; } = MarkDynamic(Rows);

    public static IReadOnlyList<ConfigDefinition> BrokerKeys { get; } = [.. All.Where(d => d.Scope == ConfigScope.Broker)];

    public static IReadOnlyList<ConfigDefinition> TopicKeys { get; } = [.. All.Where(d => d.Scope == ConfigScope.Topic)];

    public static IReadOnlyList<ConfigDefinition> GroupKeys { get; } = [.. All.Where(d => d.Scope == ConfigScope.Group)];

    private static readonly Dictionary<string, ConfigDefinition> BrokerByName = BrokerKeys.ToDictionary(d => d.Name, StringComparer.Ordinal);
    private static readonly Dictionary<string, ConfigDefinition> TopicByName = TopicKeys.ToDictionary(d => d.Name, StringComparer.Ordinal);
    private static readonly Dictionary<string, ConfigDefinition> GroupByName = GroupKeys.ToDictionary(d => d.Name, StringComparer.Ordinal);

    /// <summary>
    /// The row of a key. A per-listener key (<c>listener.name.sasl_plaintext.plain.sasl.jaas.config</c>) finds its
    /// template row (<c>listener.name.&lt;listener&gt;.plain.sasl.jaas.config</c>), named as it was asked for.
    /// </summary>
    public static ConfigDefinition? Find(ConfigScope scope, string name) => scope switch
    {
        ConfigScope.Broker => BrokerByName.GetValueOrDefault(name) ?? PerListener(name),
        ConfigScope.Topic => TopicByName.GetValueOrDefault(name),
        _ => GroupByName.GetValueOrDefault(name),
    };

    /// <summary>Whether a row is the template of per-listener keys rather than a key of its own.</summary>
    public static bool IsPerListenerTemplate(ConfigDefinition definition) => definition.Name.StartsWith(Listeners.PerListenerPrefix + "<listener>.", StringComparison.Ordinal);

    private static ConfigDefinition? PerListener(string name)
    {
        if (!name.StartsWith(Listeners.PerListenerPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        var listenerEnd = name.IndexOf('.', Listeners.PerListenerPrefix.Length);
        if (listenerEnd <= Listeners.PerListenerPrefix.Length)
        {
            return null;
        }

        // listener.name.<listener>.<mechanism>.KEY, as Kafka prefixes per-mechanism settings.
        var mechanismEnd = name.IndexOf('.', listenerEnd + 1);
        var template = BrokerByName.GetValueOrDefault(Listeners.PerListenerPrefix + "<listener>" + name[listenerEnd..])
            ?? (mechanismEnd > 0 && SaslMechanisms.Supported.Contains(name[(listenerEnd + 1)..mechanismEnd].ToUpperInvariant())
                ? BrokerByName.GetValueOrDefault(Listeners.PerListenerPrefix + "<listener>.<mechanism>" + name[mechanismEnd..])
                : null);
        return template is null ? null : template with { Name = name };
    }

    private static List<ConfigDefinition> MarkDynamic(IReadOnlyList<ConfigDefinition> rows)
    {
        var inherited = rows.Where(d => d.Scope == ConfigScope.Topic && d.BrokerKey is not null).Select(d => d.BrokerKey!).ToHashSet(StringComparer.Ordinal);
        return [.. rows.Select(d => d.Scope == ConfigScope.Broker && (inherited.Contains(d.Name) || (d.SynonymOf is { } of && inherited.Contains(of))) ? d with { Dynamic = true } : d)];
    }

    /// <summary>
    /// Checks a set of values of one scope, all before any is used: unknown keys and bad values are errors, each
    /// message naming the key. Topic changes are refused whole when one is wrong.
    /// </summary>
    public static List<string> Validate(ConfigScope scope, IEnumerable<KeyValuePair<string, string>> values)
    {
        var errors = new List<string>();
        foreach (var (key, value) in values)
        {
            if (Find(scope, key) is not { } definition)
            {
                errors.Add(scope switch
                {
                    ConfigScope.Broker => $"unknown configuration key '{key}'",
                    ConfigScope.Topic => $"unknown topic config {key}",
                    _ => $"unknown group config {key}",
                });
            }
            else if (definition.Validate(value) is { } error)
            {
                errors.Add(error);
            }
        }

        return errors;
    }

    /// <summary>
    /// A broker key and the keys that are its synonyms in coarser units, highest precedence first
    /// (log.retention.ms, log.retention.minutes, log.retention.hours).
    /// </summary>
    public static IReadOnlyList<ConfigDefinition> Chain(ConfigDefinition brokerKey) =>
        [brokerKey, .. BrokerKeys.Where(d => d.SynonymOf == brokerKey.Name)];

    /// <summary>
    /// The value of a broker key's chain in the head key's units: the first key set explicitly, else the first
    /// with a default. Null when none has either.
    /// </summary>
    public static (string? Value, ConfigDefinition? From, bool IsExplicit) Resolve(ConfigDefinition brokerKey, IReadOnlyDictionary<string, string> explicitValues)
    {
        var chain = Chain(brokerKey);
        foreach (var key in chain)
        {
            if (explicitValues.TryGetValue(key.Name, out var value))
            {
                return (key.InTargetUnits(value), key, true);
            }
        }

        return chain.FirstOrDefault(k => k.Default is not null) is { } withDefault
            ? (withDefault.InTargetUnits(withDefault.Default!), withDefault, false)
            : (null, null, false);
    }

    /// <summary>
    /// The value a topic key has without an override: its broker key's (explicit or default, converted to the
    /// topic key's units: log.retention.hours=1 is retention.ms=3600000), else the topic key's own default.
    /// </summary>
    public static (string? Value, bool FromBrokerExplicit) Inherited(ConfigDefinition topicKey, IReadOnlyDictionary<string, string> brokerExplicit)
    {
        if (topicKey.BrokerKey is { } brokerKey && Resolve(BrokerByName[brokerKey], brokerExplicit) is { Value: { } value } resolved)
        {
            return (value, resolved.IsExplicit);
        }

        return (topicKey.Default, false);
    }

    // Kafka's gzip levels: -1 (the codec's default) or 1 to 9.
    private static string? GzipLevel(string value) => value == "0" ? "compression.gzip.level=0: expected -1 or 1 to 9" : null;

    // Kafka's ThrottledReplicaListValidator: "*" or partition:broker pairs.
    private static string? ThrottledReplicas(string value)
    {
        var items = ConfigDefinition.Items(value).ToList();
        var valid = items is ["*"] || items.All(i => i.Split(':') is [var p, var b] && int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _)
            && int.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out _));
        return valid ? null : $"{value}: expected * or partition:broker pairs";
    }

    private static int Int(string value) => int.Parse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    private static long Long(string value) => long.Parse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    private static double Double(string value) => double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture);

    private static CompressionType? Codec(string value) => value switch
    {
        "uncompressed" => CompressionType.None,
        "gzip" => CompressionType.Gzip,
        "snappy" => CompressionType.Snappy,
        "lz4" => CompressionType.Lz4,
        "zstd" => CompressionType.Zstd,
        _ => null,
    };

    // Broker keys are read at start; the ones topic keys inherit from also change at runtime (see MarkDynamic).
    private static ConfigDefinition Broker(string name, ConfigType type, string? defaultValue, string documentation, long Min = long.MinValue, long Max = long.MaxValue,
        string[]? Allowed = null, string? SynonymOf = null, long UnitScale = 1, bool Sensitive = false, Func<string, string?>? Check = null, Func<BrokerConfig, string, BrokerConfig>? Bind = null) =>
        new(name, ConfigScope.Broker, type, defaultValue, documentation, Min, Max, Allowed, Sensitive, SynonymOf: SynonymOf, UnitScale: UnitScale, Check: Check, BindBroker: Bind);

    // A TLS key and its per-listener form (listener.name.<listener>.ssl.…).
    private static ConfigDefinition[] Ssl(string name, string? defaultValue, string documentation, ConfigType Type = ConfigType.String, string[]? Allowed = null,
        bool Sensitive = false, bool Dynamic = false, Func<string, string?>? Check = null)
    {
        var key = new ConfigDefinition(name, ConfigScope.Broker, Type, defaultValue, documentation, Allowed: Allowed, Sensitive: Sensitive, Dynamic: Dynamic, Check: Check);
        return [key, key with { Name = Listeners.PerListenerPrefix + "<listener>." + name, Default = null, Documentation = $"{name} of one listener (its name in lower case)." }];
    }

    // Topic keys change at runtime (AlterConfigs).
    private static ConfigDefinition Topic(string name, ConfigType type, string? defaultValue, string documentation, long Min = long.MinValue, long Max = long.MaxValue,
        string[]? Allowed = null, string? BrokerKey = null, Func<string, string?>? Check = null, Func<TopicSettings, string, TopicSettings>? Bind = null) =>
        new(name, ConfigScope.Topic, type, defaultValue, documentation, Min, Max, Allowed, Dynamic: true, BrokerKey: BrokerKey, Check: Check, BindTopic: Bind);

    private static ConfigDefinition Group(string name, ConfigType type, string? defaultValue, string documentation, long Min = long.MinValue, long Max = long.MaxValue,
        string? BrokerKey = null, string[]? Allowed = null, Func<string, string?>? Check = null) =>
        new(name, ConfigScope.Group, type, defaultValue, documentation, Min, Max, Allowed, Dynamic: true, BrokerKey: BrokerKey, Check: Check);
}
