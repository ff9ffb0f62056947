using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker;
using Tributary.Broker.Cluster;
using Tributary.Broker.Config;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Handlers;
using Tributary.Broker.Security;
using Tributary.Protocol;
using Tributary.Server.Admin;
using Tributary.Server.Client;
using Tributary.Server.Hosting;

namespace Tributary.Server;

/// <summary>
/// A real Kafka broker in the calling process: <c>await using var kafka = await TributaryBroker.StartAsync();</c>
/// then point any Kafka client at <see cref="BootstrapServers"/>. The same type runs the standalone server.
/// </summary>
public sealed class TributaryBroker : IAsyncDisposable
{
    private readonly BrokerConfig _config;
    private readonly ILoggerFactory _loggerFactory;
    private readonly TimeProvider _time;
    private readonly string? _temporaryDirectory;
    private readonly Dictionary<ApiKey, Func<RequestContext, InterceptDecision>> _intercepts = [];
    private readonly IReadOnlyList<Action<Microsoft.AspNetCore.Builder.WebApplication, TributaryBroker>> _adminRoutes;
    private AdminListener? _admin;
    private volatile bool _stopping;
    private volatile bool _killed;
    private Func<ReplicaLinkFactory, ReplicaLinkFactory>? _wrapReplicaLinks;
    private Storage.Devices.ILogDevice? _logDevice;
    private KafkaListener? _listener;
    private BrokerMaintenance? _maintenance;

    private ReplicaManager? _replicas;
    private BrokerCore? _core;

    private TributaryBroker(BrokerConfig config, ILoggerFactory loggerFactory, TimeProvider time, string? temporaryDirectory,
        IReadOnlyList<Action<Microsoft.AspNetCore.Builder.WebApplication, TributaryBroker>>? adminRoutes = null)
    {
        _adminRoutes = adminRoutes ?? [];
        _config = config;
        _loggerFactory = loggerFactory;
        _time = time;
        _temporaryDirectory = temporaryDirectory;
    }

    public string Host => _config.ListenerHost;

    /// <summary>The first listener's bound port.</summary>
    public int Port { get; private set; }

    public string BootstrapServers => $"{Host}:{Port}";

    /// <summary>Every listener with its bound port.</summary>
    public IReadOnlyList<ListenerEndpoint> Listeners { get; private set; } = [];

    /// <summary>host:port of the listener named <paramref name="listener"/> (PLAINTEXT, SASL_PLAINTEXT, …).</summary>
    public string BootstrapServersOf(string listener) =>
        Listeners.FirstOrDefault(l => l.Name == listener) is { } bound
            ? $"{bound.Host}:{bound.Port.ToString(CultureInfo.InvariantCulture)}"
            : throw new ArgumentException($"the broker has no listener {listener}", nameof(listener));

    /// <summary>The admin listener's bound addresses (tributary.admin.listeners); empty without one.</summary>
    public IReadOnlyList<Uri> AdminAddresses => _admin?.Addresses ?? [];

    /// <summary>
    /// Why the broker cannot serve clients yet (its logs recovering, its metadata loading, stopping), or null once its
    /// listeners are bound: /health/ready's answer.
    /// </summary>
    public string? NotReadyReason =>
        _stopping ? "stopping" : _core is null ? "starting: recovering the logs, loading the metadata, binding the listeners" : null;

    public BrokerCore Core => _core ?? throw new InvalidOperationException("the broker is stopped");

    internal BrokerCore? CoreOrNull => _core;

    public RequestDispatcher Dispatcher { get; private set; } = null!;

    public BrokerConfig Config => _config;

    /// <summary>Starts an embedded broker from options (tests, tools).</summary>
    public static async Task<TributaryBroker> StartAsync(TributaryBrokerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new TributaryBrokerOptions();
        string? temporary = null;
        var pairs = new Dictionary<string, string>(options.Config, StringComparer.Ordinal)
        {
            ["tributary.storage"] = options.InMemory ? "memory" : "disk",
        };

        // One listener on Host:Port unless the configuration names its own; with SASL users a SASL one, with a
        // certificate a TLS one.
        var listenerName = (options.SaslUsers.Count > 0, options.TlsCertificate is not null) switch
        {
            (true, true) => ListenerSecurity.SaslSsl,
            (true, false) => ListenerSecurity.SaslPlaintext,
            (false, true) => ListenerSecurity.Ssl,
            _ => ListenerSecurity.Plaintext,
        };
        pairs.TryAdd("listeners", $"{listenerName}://{options.Host}:{options.Port.ToString(CultureInfo.InvariantCulture)}");
        if (options.SaslUsers.Count > 0)
        {
            pairs.TryAdd(Broker.Config.Listeners.PerListenerKey(listenerName, "plain.sasl.jaas.config"), PlainJaas(options.SaslUsers));
        }

        if (options.TlsCertificate is { } certificate)
        {
            pairs.TryAdd("ssl.keystore.type", SslKeystore.Pem);
            pairs.TryAdd("ssl.keystore.certificate.chain", certificate.ExportCertificatePem());
            pairs.TryAdd("ssl.keystore.key", PrivateKeyPem(certificate));
        }

        if (options.TlsTrustedCertificates.Count > 0)
        {
            pairs.TryAdd("ssl.truststore.type", SslKeystore.Pem);
            pairs.TryAdd("ssl.truststore.certificates", string.Join('\n', options.TlsTrustedCertificates.Select(c => c.ExportCertificatePem())));
        }

        if (!options.InMemory)
        {
            if (options.DataDirectory is null)
            {
                temporary = Directory.CreateTempSubdirectory("tributary-").FullName;
            }

            pairs["log.dirs"] = options.DataDirectory ?? temporary!;
        }

        var (config, errors) = BrokerConfig.Parse(pairs);
        if (config is null)
        {
            throw new ArgumentException("invalid broker configuration: " + string.Join("; ", errors), nameof(options));
        }

        var broker = new TributaryBroker(config, options.LoggerFactory ?? NullLoggerFactory.Instance, options.TimeProvider ?? TimeProvider.System,
            options.KeepDataDirectory ? null : temporary, [.. options.AdminRoutes]);
        broker._wrapReplicaLinks = options.WrapReplicaLinks;
        broker._logDevice = options.LogDevice;
        await broker.StartAdminAndCoreAsync(cancellationToken).ConfigureAwait(false);
        if (options.SaslUsers.Count > 0)
        {
            broker.Core.Metadata.AlterScramCredentials([.. options.SaslUsers.SelectMany(u => SaslMechanisms.Scram.Select(m => (u.Key, m, (ScramCredential?)Scram.Credential(m, u.Value))))]);
        }

        foreach (var (name, partitions) in options.Topics)
        {
            await broker.CreateTopicAsync(name, partitions).ConfigureAwait(false);
        }

        return broker;
    }

    /// <summary>Starts a broker from a parsed configuration (the <c>tributary serve</c> command).</summary>
    public static async Task<TributaryBroker> StartAsync(BrokerConfig config, ILoggerFactory loggerFactory, CancellationToken cancellationToken = default)
    {
        var broker = new TributaryBroker(config, loggerFactory, TimeProvider.System, null);
        await broker.StartAdminAndCoreAsync(cancellationToken).ConfigureAwait(false);
        return broker;
    }

    /// <summary>
    /// How long a start whose core (log recovery, metadata, Kafka listeners) is not up yet waits before starting the
    /// admin listener anyway, so liveness answers and readiness says why not during a long recovery.
    /// </summary>
    public const int AdminListenerStartDelayMs = 100;

    // The Kafka listener comes first: the admin listener (the HTTP host, the metrics exporter; on an empty data directory
    // more start-up CPU than the whole core) starts once the core is up, so it takes neither a core nor a thread-pool
    // thread from the Kafka listener's first answers. A core still starting after AdminListenerStartDelayMs (a long
    // recovery) has the admin listener started beside it. A failure of either stops the other.
    private async Task StartAdminAndCoreAsync(CancellationToken cancellationToken)
    {
        Lazy<Task<AdminListener>>? admin = _config.AdminListeners.Count > 0
            ? new(() => Task.Run(() => AdminListener.StartAsync(_config.AdminListeners, this, _adminRoutes, _loggerFactory, cancellationToken), cancellationToken))
            : null;
        var early = admin is null
            ? null
            : _time.CreateTimer(_ => _ = admin.Value, null, TimeSpan.FromMilliseconds(AdminListenerStartDelayMs), Timeout.InfiniteTimeSpan);
        try
        {
            await StartCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (early is not null)
            {
                await early.DisposeAsync().ConfigureAwait(false);
            }

            // The timer may have started the admin listener while the core was failing: it is stopped again.
            if (admin is { IsValueCreated: true })
            {
                try
                {
                    await (await admin.Value.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or OperationCanceledException)
                {
                    // The core's failure is the one to report.
                }
            }

            throw;
        }

        if (early is not null)
        {
            await early.DisposeAsync().ConfigureAwait(false);
        }

        if (admin is not null)
        {
            try
            {
                _admin = await admin.Value.ConfigureAwait(false);
            }
            catch
            {
                await StopCoreAsync(CancellationToken.None).ConfigureAwait(false);
                throw;
            }

            BrokerMetrics.Register(this);
        }
    }

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        var core = new BrokerCore(_config, _time, _loggerFactory, _logDevice);
        var dispatcher = HandlerCatalog.CreateDispatcher(core, _loggerFactory);
        dispatcher.Interceptor = _intercepts.Count == 0 ? null : Intercept;

        // In cluster mode the listeners are bound before the broker joins (it registers their addresses), and the
        // join can wait out an earlier incarnation's lease. Until then requests close their connection, as a Kafka
        // broker takes none before it has caught up with the metadata: answered as a single node, a Metadata request
        // would auto-create a local one-partition topic and name this broker leader of partitions it does not lead.
        if (_config.ClusterMode)
        {
            dispatcher.NotServingReason = "this broker has not joined its cluster yet";
        }

        KafkaListener listener;
        try
        {
            listener = await KafkaListener.StartAsync(core, dispatcher, _loggerFactory, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            core.Dispose();
            throw;
        }

        Port = listener.Port;
        Listeners = listener.Bound;
        core.AdvertisedHost = _config.AdvertisedHostOrListener;
        core.AdvertisedPort = _config.AdvertisedPort ?? Port;
        core.AdvertisedListeners = listener.Bound.ToDictionary(l => l.Name,
            l => _config.AdvertisedListeners.FirstOrDefault(a => a.Name == l.Name) is { } advertised ? (advertised.Host, advertised.Port) : (l.Host, l.Port), StringComparer.Ordinal);
        if (_config.ClusterMode)
        {
            // Registered with the listeners' bound addresses, so the listeners start first; until the broker has
            // joined and its data plane runs, its connections close unanswered (RequestDispatcher.NotServingReason)
            // and its clients see a cluster without it.
            try
            {
                var connector = NewInterBrokerConnector();
                core.InterBrokerTls = connector.Security.UsesTls ? connector.Security.HandshakeAsync : null;
                var node = await core.JoinClusterAsync(null, cancellationToken).ConfigureAwait(false);
                await StartClusterReplicationAsync(core, node, connector, cancellationToken).ConfigureAwait(false);
                dispatcher.NotServingReason = null;
            }
            catch
            {
                await StopCoreAsync(core, listener, CancellationToken.None).ConfigureAwait(false);
                throw;
            }
        }

        _listener = listener;
        _maintenance = new BrokerMaintenance(core, _loggerFactory.CreateLogger<BrokerMaintenance>());
        _core = core;
        Dispatcher = dispatcher;
    }

    /// <summary>Creates a topic (idempotent: an existing topic is left as it is).</summary>
    public Task CreateTopicAsync(string name, int partitions = 1, IReadOnlyDictionary<string, string>? configs = null)
    {
        if (Broker.Metadata.MetadataStore.ValidateTopicName(name) is { } error)
        {
            throw new ArgumentException(error, nameof(name));
        }

        Core.CreateTopic(name, partitions, configs ?? new Dictionary<string, string>());
        return Task.CompletedTask;
    }

    /// <summary>
    /// Fault injection for tests: every request with this API key goes through <paramref name="decide"/> first,
    /// which can answer it with an error code, delay it, or drop the connection.
    /// </summary>
    public void Intercept(ApiKey key, Func<RequestContext, InterceptDecision> decide)
    {
        _intercepts[key] = decide;
        if (_core is not null)
        {
            Dispatcher.Interceptor = Intercept;
        }
    }

    public void ClearIntercepts() => _intercepts.Clear();

    private ValueTask<InterceptDecision> Intercept(RequestContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_intercepts.TryGetValue(context.ApiKey, out var decide) ? decide(context) : InterceptDecision.Continue);

    // Cluster mode's data plane: the ClusterNode is the ReplicaManager's control (AlterIsr by CAS in etcd) and the
    // ReplicaManager its role sink. The node joins with its logging sink first, so the cluster topics are mirrored and
    // their logs recovered and open; then the sink is replaced and every partition's role applied on those logs. The
    // coordinators hear of the internal partitions this broker comes to lead or stops leading.
    private async Task StartClusterReplicationAsync(BrokerCore core, ClusterNode node, InterBrokerConnector connector, CancellationToken cancellationToken)
    {
        var connect = WireReplicaLink.ConnectorFor(node.LocalNodeId, connector);
        var replicas = new ReplicaManager(core, node, _wrapReplicaLinks is { } wrap ? wrap(connect) : connect);
        _replicas = replicas;
        core.Replicas = replicas;
        core.TxnMarkerSender = new WireTxnMarkerSender(connector, node.LocalNodeId).SendAsync;
        core.InterBrokerClient = new WireInterBrokerClient(connector, node.LocalNodeId);
        await node.SetSinkAsync(core.CoordinatorsFollow(replicas), cancellationToken).ConfigureAwait(false);
    }

    // The inter-broker listener's security, its stores read now (the listener has read the same ones to bind).
    private InterBrokerConnector NewInterBrokerConnector() =>
        new(InterBrokerSecurity.For(_config), _loggerFactory.CreateLogger<InterBrokerConnector>());

    /// <summary>
    /// Joins a cluster's data plane: from now on this broker replicates the partitions <paramref name="control"/>'s
    /// control plane assigns to it, following their leaders over the wire client. Returns the sink the control plane
    /// tells role changes to. The topics must exist in this broker's metadata.
    /// </summary>
    public ReplicaManager StartReplication(IClusterControl control)
    {
        if (_replicas is not null)
        {
            throw new InvalidOperationException("replication already started");
        }

        var replicas = new ReplicaManager(Core, control, WireReplicaLink.ConnectorFor(control.LocalNodeId, NewInterBrokerConnector()));
        _replicas = replicas;
        Core.Replicas = replicas;
        return replicas;
    }

    /// <summary>
    /// Stops as a killed process looks to the cluster (TributaryCluster): no controlled shutdown, and the etcd lease is
    /// not revoked but left to expire. Connections close; the logs are still closed cleanly.
    /// </summary>
    internal Task KillAsync()
    {
        _killed = true;
        return StopAsync();
    }

    /// <summary>Stops accepting connections, closes the open ones and closes the logs cleanly. Storage is kept.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        _stopping = true;
        await StopCoreAsync(cancellationToken).ConfigureAwait(false);
        if (_admin is { } admin)
        {
            _admin = null;
            BrokerMetrics.Unregister(this);
            await admin.DisposeAsync().ConfigureAwait(false);
        }
    }

    // Everything but the admin listener, which a restart keeps.
    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        var listener = _listener;
        _listener = null;
        await StopCoreAsync(_core, listener, cancellationToken).ConfigureAwait(false);
    }

    private async Task StopCoreAsync(BrokerCore? core, KafkaListener? listener, CancellationToken cancellationToken)
    {
        // Controlled shutdown: the controller moves this broker's leaderships while it still serves, so clients
        // retry on the new leaders instead of waiting for the lease to end.
        if (core?.Cluster is { } leaving && _replicas is not null && _config.ControlledShutdownEnable && !_killed)
        {
            await leaving.ControlledShutdownAsync(cancellationToken).ConfigureAwait(false);
        }

        // First the fetchers: a follower still fetching after the lease is gone would be taken back into the ISR the
        // controller just dropped it from. Role changes arriving after this are ignored.
        if (_replicas is { } replicas)
        {
            _replicas = null;
            await replicas.DisposeAsync().ConfigureAwait(false);
        }

        if (core?.Cluster is { } cluster)
        {
            // Then the lease is revoked, so the controller moves this broker's leaderships at once; a killed broker
            // leaves it to expire.
            if (_killed)
            {
                await cluster.AbandonAsync().ConfigureAwait(false);
            }
            else
            {
                await cluster.DisposeAsync().ConfigureAwait(false);
            }
        }

        if (listener is not null)
        {
            await listener.StopAsync(cancellationToken).ConfigureAwait(false);
        }

        if (_maintenance is { } maintenance)
        {
            _maintenance = null;
            await maintenance.DisposeAsync().ConfigureAwait(false);
        }

        core?.Dispose();
        _core = null;
    }

    /// <summary>Stops and starts again on the same port with the same storage (on disk: recovery runs).</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        if (_config.InMemoryStorage)
        {
            throw new InvalidOperationException("an in-memory broker loses its data on stop; start it with InMemory = false to restart it");
        }

        var bound = Listeners;
        await StopCoreAsync(cancellationToken).ConfigureAwait(false);
        var sameConfig = _config with { Listeners = bound };
        var restarted = new TributaryBroker(sameConfig, _loggerFactory, _time, null);
        foreach (var (k, v) in _intercepts)
        {
            restarted._intercepts[k] = v;
        }

        await restarted.StartCoreAsync(cancellationToken).ConfigureAwait(false);
        _listener = restarted._listener;
        _maintenance = restarted._maintenance;
        _replicas = restarted._replicas;
        _core = restarted._core;
        Dispatcher = restarted.Dispatcher;
        Listeners = restarted.Listeners;
        if (_intercepts.Count > 0)
        {
            Dispatcher.Interceptor = Intercept;
        }
    }

    private static string PrivateKeyPem(X509Certificate2 certificate)
    {
        using var key = (AsymmetricAlgorithm?)certificate.GetRSAPrivateKey() ?? (AsymmetricAlgorithm?)certificate.GetECDsaPrivateKey()
            ?? throw new ArgumentException("TlsCertificate needs its RSA or ECDSA private key", nameof(certificate));
        return key.ExportPkcs8PrivateKeyPem();
    }

    // Kafka's JAAS syntax, each password quoted with its quotes and backslashes escaped.
    private static string PlainJaas(IDictionary<string, string> users) =>
        PlainJaasConfig.LoginModule + " required "
        + string.Join(' ', users.Select(u => $"user_{u.Key}=\"{u.Value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\""))
        + ";";

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (_temporaryDirectory is not null && Directory.Exists(_temporaryDirectory))
        {
            Directory.Delete(_temporaryDirectory, recursive: true);
        }
    }
}
