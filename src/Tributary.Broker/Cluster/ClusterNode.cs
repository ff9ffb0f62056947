using System.Collections.Concurrent;
using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Mvccpb;
using Tributary.Broker.Config;

namespace Tributary.Broker.Cluster;

/// <summary>
/// This broker's membership of a cluster whose metadata lives in etcd (cluster mode). It registers the broker under
/// a lease, watches the cluster's prefix into a local cache (Metadata answers from it and never waits on etcd),
/// mirrors the topics into the local metadata store so the partition logs exist, tells the data plane
/// (<see cref="IReplicaRoleSink"/>) when this broker's role for a partition changes, and campaigns to be the
/// controller (ClusterNode.Controller.cs). Every change is a transaction comparing the key's revision.
/// </summary>
public sealed partial class ClusterNode : IClusterControl, IAsyncDisposable
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan RetryDelayMin = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan RetryDelayMax = TimeSpan.FromSeconds(2);

    private readonly BrokerCore _core;
    private readonly ILogger _logger;
    private readonly EtcdClientSecurity _security;
    private readonly EtcdChannel _channel;
    private readonly KV.KVClient _kv;
    private readonly Lease.LeaseClient _leases;
    private readonly Watch.WatchClient _watches;
    private readonly ClusterKeys _keys;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<int, ClusterBroker> _brokers = new();
    private readonly ConcurrentDictionary<string, Versioned<ClusterTopic>> _topics = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Topic, int Partition), Versioned<PartitionState>> _partitions = new();

    // What the sink was last told per local partition: every change of leader, leader epoch or partition epoch (an
    // ISR or replica change) reaches it, so followers hold the current ISR too.
    private readonly Dictionary<(string Topic, int Partition), (int Leader, int LeaderEpoch, int PartitionEpoch)> _applied = [];
    private readonly SemaphoreSlim _changed = new(0);
    private IReplicaRoleSink _sink;
    private long _leaseId;
    private long _revision;
    private TaskCompletionSource _revisionAdvanced = NewRevisionSignal();
    private Task _background = Task.CompletedTask;

    private ClusterNode(BrokerCore core, IReplicaRoleSink? sink, EtcdClientSecurity security)
    {
        _core = core;
        _logger = core.LoggerFactory.CreateLogger<ClusterNode>();
        _sink = sink ?? new LoggingReplicaRoleSink(_logger, core.NodeId);
        _keys = new ClusterKeys(core.Config.EtcdPrefix);
        _security = security;
        _channel = new EtcdChannel(core.Config.EtcdEndpoints, security, _logger);
        _kv = new KV.KVClient(_channel);
        _leases = new Lease.LeaseClient(_channel);
        _watches = new Watch.WatchClient(_channel);
        _directoryId = DataDirectoryId.LoadOrCreate(core.DataDirectory);
    }

    public int LocalNodeId => _core.NodeId;

    /// <summary>How many times this broker replaced its etcd channel after its lease keep-alives kept failing.</summary>
    public int EtcdReconnects => _channel.Replacements;

    /// <summary>How many etcd auth tokens this broker took (0 without tributary.metadata.etcd.username).</summary>
    public int EtcdAuthentications => _channel.Authentications;

    /// <summary>The cluster's id, the same on every broker: the first broker to start stored its own.</summary>
    public string ClusterId { get; private set; } = "";

    /// <summary>The controller's node id, -1 while there is none.</summary>
    public int ControllerId { get; private set; } = -1;

    /// <summary>Live brokers (registered under a live lease) by id.</summary>
    public IReadOnlyCollection<ClusterBroker> LiveBrokers => [.. _brokers.Values.OrderBy(b => b.NodeId)];

    public bool IsLive(int nodeId) => _brokers.ContainsKey(nodeId);

    /// <summary>Live brokers with their endpoint on <paramref name="listener"/>; one without that listener is left out, as Kafka does.</summary>
    public IEnumerable<(ClusterBroker Broker, ClusterEndpoint Endpoint)> BrokersOn(string listener) => LiveBrokers
        .Select(b => (Broker: b, Endpoint: b.Endpoints.FirstOrDefault(e => e.Listener == listener)))
        .Where(b => b.Endpoint is not null)
        .Select(b => (b.Broker, b.Endpoint!));

    public bool TryGetBroker(int nodeId, out ClusterBroker broker) => _brokers.TryGetValue(nodeId, out broker!);

    /// <summary>A partition's state as this broker last saw it; false when the cluster has no such partition.</summary>
    public bool TryGetPartition(string topic, int partition, out PartitionState state)
    {
        var found = _partitions.TryGetValue((topic, partition), out var versioned);
        state = versioned.Value;
        return found;
    }

    /// <summary>Whether the cluster metadata holds the topic; internal topics are local to each broker for now.</summary>
    public bool HasTopic(string name) => _topics.ContainsKey(name);

    /// <summary>The topic's partition count in the cluster metadata; null when the cluster has no such topic.</summary>
    public int? PartitionCountOf(string name) => _topics.TryGetValue(name, out var topic) ? topic.Value.PartitionCount : null;

    /// <summary>
    /// Connects to etcd (retrying an unreachable one, logged, up to tributary.metadata.etcd.connect.timeout.ms),
    /// registers this broker, loads the cluster metadata and starts watching it. Throws
    /// <see cref="ClusterUnavailableException"/> when etcd does not answer in time, and
    /// <see cref="EtcdConfigurationException"/> at once when the TLS or auth settings cannot work.
    /// </summary>
    public static async Task<ClusterNode> StartAsync(BrokerCore core, IReplicaRoleSink? sink, CancellationToken cancellationToken)
    {
        var node = new ClusterNode(core, sink, EtcdClientSecurity.Load(core.Config));
        try
        {
            await node.ConnectAsync(cancellationToken).ConfigureAwait(false);
            return node;
        }
        catch
        {
            await node.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Replaces the logging sink with the data plane's; the partitions this broker holds are told again.</summary>
    public async Task SetSinkAsync(IReplicaRoleSink sink, CancellationToken cancellationToken)
    {
        _sink = sink;
        lock (_applied)
        {
            _applied.Clear();
        }

        foreach (var (_, versioned) in _partitions)
        {
            await NotifySinkAsync(versioned.Value, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var endpoints = string.Join(",", _core.Config.EtcdEndpoints);
        var deadline = _core.Time.GetUtcNow().AddMilliseconds(_core.Config.EtcdConnectTimeoutMs);
        var delay = RetryDelayMin;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await _channel.AuthenticateAsync(cancellationToken).ConfigureAwait(false);
                ClusterId = await EnsureClusterIdAsync(cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (RpcException e) when (Misconfigured(e) is { } reason)
            {
                // Retrying cannot help: etcd answered, and refused these settings.
                throw new EtcdConfigurationException(reason, e);
            }
            catch (RpcException e) when (_core.Time.GetUtcNow() < deadline)
            {
                LogEtcdUnreachable(_logger, endpoints, attempt, e.Status.Detail);
                await Task.Delay(delay, _core.Time, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, RetryDelayMax.Ticks));
            }
            catch (RpcException e)
            {
                // etcd refusing a missing or untrusted client certificate (TLS 1.3: after the handshake) just closes the connection.
                var hint = EtcdEndpoints.UseTls(_core.Config.EtcdEndpoints)
                    ? "; over TLS this is also how etcd refuses a missing or untrusted client certificate (tributary.metadata.etcd.ssl.keystore.location)"
                    : "";
                throw new ClusterUnavailableException(
                    $"etcd at {endpoints} did not answer within tributary.metadata.etcd.connect.timeout.ms={_core.Config.EtcdConnectTimeoutMs} ({attempt} attempts): {e.Status.Detail}{hint}", e);
            }
        }

        await RegisterAsync(deadline, cancellationToken).ConfigureAwait(false);
        await ReloadAsync(cancellationToken).ConfigureAwait(false);
        _loaded = true;
        _core.MirrorClusterLoaded(_topics.Keys.ToHashSet(StringComparer.Ordinal));
        RemoveUnhostedLogs();
        LogJoined(_logger, LocalNodeId, ClusterId, endpoints, _brokers.Count);
        _background = Task.WhenAll(
            Task.Run(() => WatchLoopAsync(_stop.Token), CancellationToken.None),
            Task.Run(() => KeepAliveLoopAsync(_stop.Token), CancellationToken.None),
            Task.Run(() => ControllerLoopAsync(_stop.Token), CancellationToken.None),
            Task.Run(() => CrashDetectionLoopAsync(_stop.Token), CancellationToken.None));
    }

    // An etcd failure that is the settings' fault, as a line naming the key to fix; null for one worth retrying.
    private string? Misconfigured(RpcException e)
    {
        var endpoints = string.Join(",", _core.Config.EtcdEndpoints);
        if (_security.CertificateRejection is { } rejection)
        {
            return $"etcd at {endpoints} presented a certificate that is not trusted ({rejection}); check tributary.metadata.etcd.ssl.truststore.location";
        }

        for (var inner = e.Status.DebugException; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Security.Authentication.AuthenticationException)
            {
                return $"the TLS handshake with etcd at {endpoints} failed ({inner.Message}); check tributary.metadata.etcd.ssl.keystore.location (etcd may require a client certificate it trusts)";
            }
        }

        return e.Status switch
        {
            { StatusCode: StatusCode.InvalidArgument } s when s.Detail.Contains("authentication failed", StringComparison.Ordinal) =>
                $"etcd at {endpoints} refused tributary.metadata.etcd.username={_security.Username} with its tributary.metadata.etcd.password ({s.Detail})",
            { StatusCode: StatusCode.FailedPrecondition } s when s.Detail.Contains("authentication is not enabled", StringComparison.Ordinal) =>
                $"tributary.metadata.etcd.username is set but etcd at {endpoints} has authentication disabled ({s.Detail})",
            { StatusCode: StatusCode.PermissionDenied } s =>
                $"etcd at {endpoints} refused access to tributary.metadata.etcd.prefix={_core.Config.EtcdPrefix} ({s.Detail}); set tributary.metadata.etcd.username and password for a user whose role may read and write it",
            _ => null,
        };
    }

    // The first broker of a cluster stores its local cluster id; every other takes the stored one.
    private async Task<string> EnsureClusterIdAsync(CancellationToken cancellationToken)
    {
        var key = ByteString.CopyFromUtf8(_keys.ClusterId);
        var txn = new TxnRequest
        {
            Compare = { new Compare { Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 } },
            Success = { new RequestOp { RequestPut = new PutRequest { Key = key, Value = ByteString.CopyFromUtf8(_core.Metadata.ClusterId) } } },
            Failure = { new RequestOp { RequestRange = new RangeRequest { Key = key } } },
        };
        var response = await _kv.TxnAsync(txn, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
        return response.Succeeded ? _core.Metadata.ClusterId : response.Responses[0].ResponseRange.Kvs[0].Value.ToStringUtf8();
    }

    // Puts brokers/<id> under a new lease. A key of the same id under another lease is a broker that still runs or
    // was killed less than a lease ago: this one waits for that lease to end rather than take over a live id. Each
    // attempt takes a new lease: nothing keeps one alive while it waits.
    private async Task RegisterAsync(DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        var ttlSeconds = Math.Max(2, (_core.Config.EtcdLeaseMs + 999) / 1000);
        var key = ByteString.CopyFromUtf8(_keys.Broker(LocalNodeId));
        var value = ByteString.CopyFromUtf8(JsonSerializer.Serialize(LocalBroker(), ClusterJson.Default.ClusterBroker));
        while (true)
        {
            var lease = await _leases.LeaseGrantAsync(new LeaseGrantRequest { TTL = ttlSeconds }, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _leaseId, lease.ID);
            var txn = new TxnRequest
            {
                Compare = { new Compare { Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 } },
                Success = { new RequestOp { RequestPut = new PutRequest { Key = key, Value = value, Lease = lease.ID } } },
            };
            var response = await _kv.TxnAsync(txn, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
            if (response.Succeeded)
            {
                return;
            }

            if (_core.Time.GetUtcNow() >= deadline)
            {
                throw new ClusterUnavailableException($"node.id {LocalNodeId} is registered in the cluster by another broker whose lease did not end in time");
            }

            LogIdTaken(_logger, LocalNodeId);
            await Task.Delay(TimeSpan.FromSeconds(1), _core.Time, cancellationToken).ConfigureAwait(false);
        }
    }

    private ClusterBroker LocalBroker() => new(LocalNodeId, _core.Config.Rack,
        [.. _core.AdvertisedListeners.Select(l => new ClusterEndpoint(l.Key, l.Value.Host, l.Value.Port))], _directoryId);

    // Keeps the lease alive every third of its TTL; a lease etcd reports as ended (TTL 0: this broker was cut off
    // longer than the TTL and is dead to the cluster) is replaced by a new registration.
    private async Task KeepAliveLoopAsync(CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromMilliseconds(_core.Config.EtcdLeaseMs / 3.0);
        var lease = TimeSpan.FromMilliseconds(_core.Config.EtcdLeaseMs);
        DateTimeOffset? failingSince = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                using var call = _leases.LeaseKeepAlive(cancellationToken: cancellationToken);
                while (!cancellationToken.IsCancellationRequested)
                {
                    // The write is bounded too: one that waits on a dead member's connection must not stall the loop.
                    using var answered = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    answered.CancelAfter(interval * 2);
                    await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = Volatile.Read(ref _leaseId) }, answered.Token).ConfigureAwait(false);
                    if (!await call.ResponseStream.MoveNext(answered.Token).ConfigureAwait(false))
                    {
                        break;
                    }

                    failingSince = null;

                    if (call.ResponseStream.Current.TTL <= 0)
                    {
                        LogLeaseLost(_logger, LocalNodeId);
                        await RegisterAsync(DateTimeOffset.MaxValue, cancellationToken).ConfigureAwait(false);
                        _changed.Release();
                        break;
                    }

                    await Task.Delay(interval, _core.Time, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Any failure retries (a write to a call the server ended throws InvalidOperationException): a loop
                // that ended here would leave the broker dead to the cluster for good.
                LogKeepAliveFailed(_logger, e.Message);
                var now = _core.Time.GetUtcNow();
                failingSince ??= now;
                if (now - failingSince >= lease)
                {
                    // Failing for a whole lease: the channel may be stuck on connections a network cut left
                    // behind, so every later call (keep-alives, registration, AlterIsr, the watch) goes on a new one.
                    LogEtcdChannelReplaced(_logger, (long)(now - failingSince.Value).TotalMilliseconds);
                    _channel.Replace();
                    failingSince = now;
                }

                await Delay(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    // Reads the whole prefix at one revision and replaces the cache with it: at start, and when the watch cannot
    // resume (its revision was compacted away).
    private async Task ReloadAsync(CancellationToken cancellationToken)
    {
        var range = await _kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8(_keys.Prefix), RangeEnd = ClusterKeys.RangeEnd(_keys.Prefix) },
            deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
        var present = range.Kvs.Select(kv => kv.Key.ToStringUtf8()).ToHashSet(StringComparer.Ordinal);
        var gone = _brokers.Keys.Select(_keys.Broker)
            .Concat(_topics.Keys.Select(_keys.Topic))
            .Concat(_partitions.Keys.Select(k => _keys.Partition(k.Topic, k.Partition)))
            .Concat(_shuttingDown.Keys.Select(_keys.Shutdown))
            .Concat(_admitted.Keys.Select(_keys.Admitted))
            .Concat(KnownConfigKeys())
            .Concat(_scramUsers.Keys.Select(_keys.ScramUser))
            .Concat(Volatile.Read(ref _acls).ModRevision > 0 ? [_keys.Acls] : [])
            .Append(_keys.ClientQuotas)
            .Where(k => !present.Contains(k))
            .Select(k => new Event { Type = Event.Types.EventType.Delete, Kv = new KeyValue { Key = ByteString.CopyFromUtf8(k) } });
        var puts = range.Kvs.Select(kv => new Event { Type = Event.Types.EventType.Put, Kv = kv });
        await ApplyAsync([.. gone, .. puts], cancellationToken).ConfigureAwait(false);
        AdvanceRevision(range.Header.Revision);
    }

    private async Task WatchLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                // hasleader: etcd ends the watch when its member loses the raft leader, instead of leaving it silent.
                var token = _channel.TokenGeneration;
                using var call = _watches.Watch(new Grpc.Core.Metadata { { "hasleader", "true" } }, cancellationToken: cancellationToken);
                await call.RequestStream.WriteAsync(new WatchRequest
                {
                    CreateRequest = new WatchCreateRequest
                    {
                        Key = ByteString.CopyFromUtf8(_keys.Prefix),
                        RangeEnd = ClusterKeys.RangeEnd(_keys.Prefix),
                        StartRevision = Volatile.Read(ref _revision) + 1,
                    },
                }, cancellationToken).ConfigureAwait(false);
                while (await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
                {
                    var response = call.ResponseStream.Current;
                    if (response.CompactRevision > 0)
                    {
                        LogWatchCompacted(_logger, response.CompactRevision);
                        await ReloadAsync(cancellationToken).ConfigureAwait(false);
                        break;
                    }

                    if (response.Canceled)
                    {
                        // etcd cancels a watch whose stream carries a token it no longer knows, giving the reason as text.
                        if (EtcdChannel.IsTokenRejected(response.CancelReason))
                        {
                            _channel.TokenRejected(token);
                        }

                        throw new RpcException(new Status(StatusCode.Unavailable, "watch canceled: " + response.CancelReason));
                    }

                    if (response.Events.Count > 0)
                    {
                        await ApplyAsync([.. response.Events], cancellationToken).ConfigureAwait(false);
                        AdvanceRevision(response.Events[^1].Kv.ModRevision);
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is RpcException or IOException or InvalidOperationException)
            {
                LogWatchLost(_logger, Volatile.Read(ref _revision), e.Message);
                await Delay(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    // Applies changes in revision order; within a revision topics first, so a partition's log can be created when
    // the sink hears of it, but a deleted topic's partitions first, so their replicas stop before the logs go. Runs
    // on one task at a time (the start, then the watch loop).
    private async Task ApplyAsync(IReadOnlyList<Event> events, CancellationToken cancellationToken)
    {
        foreach (var e in events.OrderBy(e => e.Kv.ModRevision).ThenBy(ApplyOrder))
        {
            var key = e.Kv.Key.ToStringUtf8();
            var (kind, name, number) = _keys.Parse(key);
            var put = e.Type == Event.Types.EventType.Put;
            try
            {
                switch (kind)
                {
                    case ClusterKeyKind.Broker when put:
                        _brokers[number] = JsonSerializer.Deserialize(e.Kv.Value.Span, ClusterJson.Default.ClusterBroker)!;
                        _brokerLeases[number] = e.Kv.Lease;
                        ApplyIncarnation(number, e.Kv);
                        break;
                    case ClusterKeyKind.Broker:
                        _brokers.TryRemove(number, out _);
                        _brokerLeases.TryRemove(number, out _);
                        ApplyIncarnation(number, null);
                        break;
                    case ClusterKeyKind.Admitted:
                        ApplyAdmitted(number, put ? e.Kv : null);
                        break;
                    case ClusterKeyKind.Controller:
                        ApplyController(put ? e.Kv : null);
                        break;
                    case ClusterKeyKind.Shutdown:
                        ApplyShutdown(number, put);
                        break;
                    case ClusterKeyKind.Topic when put:
                        var topic = JsonSerializer.Deserialize(e.Kv.Value.Span, ClusterJson.Default.ClusterTopic)!;
                        _topics[name] = new Versioned<ClusterTopic>(topic, e.Kv.ModRevision);
                        _core.MirrorClusterTopic(topic);
                        break;
                    case ClusterKeyKind.Topic:
                        if (_topics.TryRemove(name, out var removed))
                        {
                            _core.MirrorClusterTopicDeleted(removed.Value.Name, removed.Value.Id);
                        }

                        break;
                    case ClusterKeyKind.Partition when put:
                        var state = JsonSerializer.Deserialize(e.Kv.Value.Span, ClusterJson.Default.PartitionState)!;
                        _partitions[(name, number)] = new Versioned<PartitionState>(state, e.Kv.ModRevision);
                        NoteInherited(state);
                        await NotifySinkAsync(state, cancellationToken).ConfigureAwait(false);
                        break;
                    case ClusterKeyKind.BrokerConfigs:
                        ApplyBrokerConfigs(name, put ? e.Kv : null);
                        break;
                    case ClusterKeyKind.GroupConfigs:
                        ApplyGroupConfigs(name, put ? e.Kv : null);
                        break;
                    case ClusterKeyKind.Partition:
                        _partitions.TryRemove((name, number), out _);
                        await NotifyRemovedAsync(name, number, cancellationToken).ConfigureAwait(false);
                        break;
                    case ClusterKeyKind.Acls:
                        ApplyAcls(put ? e.Kv : null);
                        break;
                    case ClusterKeyKind.ScramUser:
                        ApplyScramUser(name, put ? e.Kv : null);
                        break;
                    case ClusterKeyKind.ClientQuotas:
                        ApplyClientQuotas(put ? e.Kv : null);
                        break;
                }
            }
            catch (Exception ex) when (ex is JsonException or IOException or ArgumentException or NotSupportedException)
            {
                // One bad or unappliable record (written by a newer version, a disk that refused the log) is logged
                // and skipped; the rest of the cluster's metadata still applies.
                LogApplyFailed(_logger, ex, key);
            }
        }

        _changed.Release();
    }

    private int ApplyOrder(Event e) => (_keys.Parse(e.Kv.Key.ToStringUtf8()).Kind, e.Type) switch
    {
        (ClusterKeyKind.Partition, Event.Types.EventType.Put) => 1,
        (ClusterKeyKind.Topic, Event.Types.EventType.Delete) => 1,
        _ => 0,
    };

    private async Task NotifySinkAsync(PartitionState state, CancellationToken cancellationToken)
    {
        var key = (state.Topic, state.Partition);
        if (!state.Replicas.Contains(LocalNodeId))
        {
            // Not a replica (any more): the replica stops, then its log goes. Not before the first full read of the
            // cluster: the sweep after it (RemoveUnhostedLogs) decides from the whole cache.
            await NotifyRemovedAsync(state.Topic, state.Partition, cancellationToken).ConfigureAwait(false);
            if (_loaded)
            {
                _core.RemoveReplicaLog(this, state.Topic, state.Partition);
            }

            return;
        }

        if (IsInherited(state))
        {
            LogInherited(_logger, state.Topic, state.Partition, state.LeaderEpoch);
            return;
        }

        lock (_applied)
        {
            if (_applied.TryGetValue(key, out var last) && last == (state.Leader, state.LeaderEpoch, state.PartitionEpoch))
            {
                return;
            }

            _applied[key] = (state.Leader, state.LeaderEpoch, state.PartitionEpoch);
        }

        try
        {
            await _sink.ApplyAsync(state, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The data plane's failure is logged; the watch goes on so the cache stays current.
            LogSinkFailed(_logger, e, state.Topic, state.Partition);
        }
    }

    private async Task NotifyRemovedAsync(string topic, int partition, CancellationToken cancellationToken)
    {
        bool known;
        lock (_applied)
        {
            known = _applied.Remove((topic, partition));
        }

        if (known)
        {
            try
            {
                await _sink.RemoveAsync(topic, partition, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogSinkFailed(_logger, e, topic, partition);
            }
        }
    }

    // After the first full read: logs left here of partitions whose state in etcd does not name this broker (removed
    // by a reassignment while it was down) go. A partition without a state in the cache is never a reason.
    private void RemoveUnhostedLogs()
    {
        foreach (var ((topic, partition), versioned) in _partitions)
        {
            if (!versioned.Value.Replicas.Contains(LocalNodeId))
            {
                _core.RemoveReplicaLog(this, topic, partition);
            }
        }
    }

    // The revision the cache holds is published, and whoever waits for it (a change this broker wrote, to be seen by
    // its next request) is woken.
    private void AdvanceRevision(long revision)
    {
        Volatile.Write(ref _revision, revision);
        Interlocked.Exchange(ref _revisionAdvanced, NewRevisionSignal()).TrySetResult();
    }

    private static TaskCompletionSource NewRevisionSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Waits until the cache has applied everything up to <paramref name="revision"/> (a change this broker just wrote),
    /// at most <see cref="MetadataChangeTimeoutMsMax"/>; false when it has not by then.
    /// </summary>
    private async Task<bool> WaitForRevisionAsync(long revision, CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        bounded.CancelAfter(MetadataChangeTimeoutMsMax);
        while (Volatile.Read(ref _revision) < revision)
        {
            var advanced = Volatile.Read(ref _revisionAdvanced);
            if (Volatile.Read(ref _revision) >= revision)
            {
                break;
            }

            try
            {
                await advanced.Task.WaitAsync(bounded.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        return true;
    }

    private DateTime Deadline() => DateTime.UtcNow + CallTimeout;

    private static async Task Delay(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(RetryDelayMin * 2, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Leaves the cluster: stops watching and revokes the lease, so the registration and a held controller key go at
    /// once and the controller moves this broker's leaderships without waiting for the lease to expire.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _background.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        if (!_abandoned && Volatile.Read(ref _leaseId) is var lease and not 0)
        {
            try
            {
                await _leases.LeaseRevokeAsync(new LeaseRevokeRequest { ID = lease }, deadline: DateTime.UtcNow.AddSeconds(2)).ConfigureAwait(false);
            }
            catch (RpcException)
            {
                // etcd unreachable: the lease expires on its own.
            }
        }

        _channel.Dispose();
        _stop.Dispose();
    }

    private readonly record struct Versioned<T>(T Value, long ModRevision);

    [LoggerMessage(EventId = 950, Level = LogLevel.Warning, Message = "etcd at {Endpoints} is unreachable (attempt {Attempt}): {Reason}; retrying")]
    private static partial void LogEtcdUnreachable(ILogger logger, string endpoints, int attempt, string reason);

    [LoggerMessage(EventId = 951, Level = LogLevel.Information, Message = "Broker {NodeId} joined cluster {ClusterId} (etcd {Endpoints}); {Brokers} brokers live")]
    private static partial void LogJoined(ILogger logger, int nodeId, string clusterId, string endpoints, int brokers);

    [LoggerMessage(EventId = 952, Level = LogLevel.Warning, Message = "node.id {NodeId} is still registered under an earlier lease; waiting for it to end")]
    private static partial void LogIdTaken(ILogger logger, int nodeId);

    [LoggerMessage(EventId = 953, Level = LogLevel.Warning, Message = "Broker {NodeId} lost its etcd lease (cut off longer than its TTL); registering again")]
    private static partial void LogLeaseLost(ILogger logger, int nodeId);

    [LoggerMessage(EventId = 993, Level = LogLevel.Warning, Message = "etcd lease keep-alives failed for {FailingMs} ms; replacing the etcd channel with new connections")]
    private static partial void LogEtcdChannelReplaced(ILogger logger, long failingMs);

    [LoggerMessage(EventId = 954, Level = LogLevel.Warning, Message = "Keeping the etcd lease alive failed: {Reason}; retrying")]
    private static partial void LogKeepAliveFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 955, Level = LogLevel.Warning, Message = "The etcd watch ended at revision {Revision}: {Reason}; resuming from there")]
    private static partial void LogWatchLost(ILogger logger, long revision, string reason);

    [LoggerMessage(EventId = 956, Level = LogLevel.Warning, Message = "The etcd watch's revision was compacted (now {CompactRevision}); reading the metadata again")]
    private static partial void LogWatchCompacted(ILogger logger, long compactRevision);

    [LoggerMessage(EventId = 958, Level = LogLevel.Error, Message = "The replica role sink failed for {Topic}-{Partition}")]
    private static partial void LogSinkFailed(ILogger logger, Exception exception, string topic, int partition);

    [LoggerMessage(EventId = 957, Level = LogLevel.Error, Message = "Could not apply the cluster metadata key {Key}; skipped")]
    private static partial void LogApplyFailed(ILogger logger, Exception exception, string key);
}
