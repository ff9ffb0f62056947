using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Tributary.Broker.Config;
using Tributary.Broker.Quotas;
using Tributary.Broker.Security;
using Tributary.Broker.Security.Authorization;
using Tributary.Storage.Devices;

namespace Tributary.Broker.Metadata;

/// <summary>
/// Topics (names, ids, partition counts, configs), dynamic broker configs, group configs, SCRAM credentials (salt,
/// iterations, StoredKey, ServerKey; never a password), client quotas, ACLs and the cluster id. Every
/// change is written as a whole snapshot to <c>__tributary_metadata.json</c> through a temporary file and an atomic
/// rename, so a crash leaves either the old or the new state. A change is visible only once its snapshot is written:
/// a write the disk refuses throws and leaves the store as it was. With no directory it lives in memory only.
/// </summary>
public sealed partial class MetadataStore
{
    public const string FileName = "__tributary_metadata.json";
    public const int TopicNameLengthMax = 249;

    private readonly string? _path;
    private readonly ILogDevice _device;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, TopicInfo> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<Guid, TopicInfo> _byId = [];

    // Dynamic broker configs by resource name ("" is the cluster default, else a node id) and group configs by group id.
    private Dictionary<string, Dictionary<string, string>> _brokerConfigs = new(StringComparer.Ordinal);
    private Dictionary<string, Dictionary<string, string>> _groupConfigs = new(StringComparer.Ordinal);
    private long _topicsVersion;

    // SCRAM credentials by user, then by mechanism (SCRAM-SHA-256, SCRAM-SHA-512).
    private Dictionary<string, Dictionary<string, ScramCredential>> _scramCredentials = new(StringComparer.Ordinal);

    // Client quotas by entity, each its keys and values; replaced whole on a change, so readers need no lock.
    private Dictionary<ClientQuotaEntity, IReadOnlyDictionary<string, double>> _clientQuotas = [];
    private AclBinding[] _acls = [];

    /// <param name="directory">Where the snapshot lives; null keeps everything in memory.</param>
    /// <param name="device">The files it is read from and written to (the real file system by default).</param>
    public MetadataStore(string? directory, ILogDevice? device = null)
    {
        _device = device ?? FileLogDevice.Instance;
        if (directory is not null)
        {
            _device.CreateDirectory(directory);
            _path = Path.Combine(directory, FileName);
            if (_device.FileExists(_path))
            {
                var snapshot = ReadSnapshot(_path);
                ClusterId = snapshot.ClusterId;
                _brokerConfigs = new(snapshot.BrokerConfigs ?? new(), StringComparer.Ordinal);
                _groupConfigs = new(snapshot.GroupConfigs ?? new(), StringComparer.Ordinal);
                _scramCredentials = new(snapshot.ScramCredentials ?? new(), StringComparer.Ordinal);
                _clientQuotas = (snapshot.ClientQuotas ?? []).ToDictionary(q => q.TryRead(out var entity) ? entity : default, q => (IReadOnlyDictionary<string, double>)q.Values);
                _acls = snapshot.Acls?.ToArray() ?? [];
                foreach (var t in snapshot.Topics)
                {
                    var topic = new TopicInfo(t.Name, t.Id, t.PartitionCount, t.Configs);
                    _byName[topic.Name] = topic;
                    _byId[topic.Id] = topic;
                }

                Loaded = true;
                return;
            }
        }

        ClusterId = NewClusterId();
        Persist([]);
    }

    public string ClusterId { get; }

    /// <summary>Whether the state was read from a stored snapshot, rather than started afresh (or in memory).</summary>
    public bool Loaded { get; }
    /// <summary>Bumped whenever a topic is created or deleted, so resolved topic regexes know to resolve again.</summary>
    public long TopicsVersion => Volatile.Read(ref _topicsVersion);

    public IReadOnlyCollection<TopicInfo> Topics
    {
        get
        {
            lock (_lock)
            {
                return [.. _byName.Values];
            }
        }
    }

    public TopicInfo? Find(string name)
    {
        lock (_lock)
        {
            return _byName.GetValueOrDefault(name);
        }
    }

    public TopicInfo? Find(Guid id)
    {
        lock (_lock)
        {
            return _byId.GetValueOrDefault(id);
        }
    }

    /// <summary>The dynamic configs of a BROKER resource: "" for the cluster default, else a node id.</summary>
    public IReadOnlyDictionary<string, string> BrokerConfigs(string resourceName) => ConfigsOf(_brokerConfigs, resourceName);

    /// <summary>A group's configs (consumer.session.timeout.ms, …): only the keys set for it.</summary>
    public IReadOnlyDictionary<string, string> GroupConfigs(string groupId) => ConfigsOf(_groupConfigs, groupId);

    /// <summary>Whether the group has configs of its own (cheap: heartbeats ask).</summary>
    public bool HasGroupConfigs(string groupId)
    {
        lock (_lock)
        {
            return _groupConfigs.ContainsKey(groupId);
        }
    }

    /// <summary>The BROKER resources with dynamic configs ("" for the cluster default).</summary>
    public IReadOnlyList<string> BrokerConfigResources()
    {
        lock (_lock)
        {
            return [.. _brokerConfigs.Keys];
        }
    }

    /// <summary>The groups with configs of their own.</summary>
    public IReadOnlyList<string> GroupConfigResources()
    {
        lock (_lock)
        {
            return [.. _groupConfigs.Keys];
        }
    }

    /// <summary>Replaces a BROKER resource's dynamic configs, durably (an empty set removes the entry).</summary>
    public void SetBrokerConfigs(string resourceName, IReadOnlyDictionary<string, string> configs) => SetConfigs(ref _brokerConfigs, resourceName, configs);

    /// <summary>Replaces a group's configs, durably (an empty set removes the entry).</summary>
    public void SetGroupConfigs(string groupId, IReadOnlyDictionary<string, string> configs) => SetConfigs(ref _groupConfigs, groupId, configs);

    /// <summary>The stored SCRAM credential of a user for a mechanism; null when there is none.</summary>
    public ScramCredential? FindScramCredential(string user, string mechanism)
    {
        lock (_lock)
        {
            return _scramCredentials.TryGetValue(user, out var byMechanism) ? byMechanism.GetValueOrDefault(mechanism) : null;
        }
    }

    /// <summary>Every user with a SCRAM credential, each with its mechanisms and their iteration counts.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> ScramUsers()
    {
        lock (_lock)
        {
            return _scramCredentials.ToDictionary(u => u.Key, u => (IReadOnlyDictionary<string, int>)u.Value.ToDictionary(m => m.Key, m => m.Value.Iterations), StringComparer.Ordinal);
        }
    }

    /// <summary>
    /// Stores and deletes SCRAM credentials (a null credential deletes), all in one durable snapshot; a user left
    /// without a mechanism is removed.
    /// </summary>
    public void AlterScramCredentials(IReadOnlyList<(string User, string Mechanism, ScramCredential? Credential)> changes)
    {
        lock (_lock)
        {
            var updated = _scramCredentials.ToDictionary(u => u.Key, u => new Dictionary<string, ScramCredential>(u.Value, StringComparer.Ordinal), StringComparer.Ordinal);
            foreach (var (user, mechanism, credential) in changes)
            {
                if (credential is not null)
                {
                    (updated.TryGetValue(user, out var byMechanism) ? byMechanism : updated[user] = new(StringComparer.Ordinal))[mechanism] = credential;
                }
                else if (updated.TryGetValue(user, out var byMechanism) && byMechanism.Remove(mechanism) && byMechanism.Count == 0)
                {
                    updated.Remove(user);
                }
            }

            var previous = _scramCredentials;
            _scramCredentials = updated;
            try
            {
                Persist(_byName.Values);
            }
            catch
            {
                _scramCredentials = previous;
                throw;
            }
        }
    }

    /// <summary>Every entity with a client quota, with its keys and values (a snapshot: later changes replace it).</summary>
    public IReadOnlyDictionary<ClientQuotaEntity, IReadOnlyDictionary<string, double>> ClientQuotas => Volatile.Read(ref _clientQuotas);

    /// <summary>
    /// Sets (a value) and removes (null) client quota keys, all in one durable snapshot; an entity left without a key
    /// is removed.
    /// </summary>
    public void AlterClientQuotas(IReadOnlyList<(ClientQuotaEntity Entity, string Key, double? Value)> changes)
    {
        lock (_lock)
        {
            ReplaceClientQuotas(WithChanges(_clientQuotas, changes));
        }
    }

    /// <summary><paramref name="quotas"/> with <paramref name="changes"/> applied: a value sets a key, null removes it; an entity left without a key goes.</summary>
    public static IReadOnlyDictionary<ClientQuotaEntity, IReadOnlyDictionary<string, double>> WithChanges(
        IReadOnlyDictionary<ClientQuotaEntity, IReadOnlyDictionary<string, double>> quotas, IReadOnlyList<(ClientQuotaEntity Entity, string Key, double? Value)> changes)
    {
        var updated = quotas.ToDictionary(q => q.Key, q => new Dictionary<string, double>(q.Value, StringComparer.Ordinal));
        foreach (var (entity, key, value) in changes)
        {
            if (value is { } set)
            {
                (updated.TryGetValue(entity, out var values) ? values : updated[entity] = new(StringComparer.Ordinal))[key] = set;
            }
            else if (updated.TryGetValue(entity, out var values) && values.Remove(key) && values.Count == 0)
            {
                updated.Remove(entity);
            }
        }

        return updated.ToDictionary(q => q.Key, q => (IReadOnlyDictionary<string, double>)q.Value);
    }

    /// <summary>Replaces every client quota at once, durably (cluster mode: what etcd holds).</summary>
    public void ReplaceClientQuotas(IReadOnlyDictionary<ClientQuotaEntity, IReadOnlyDictionary<string, double>> quotas)
    {
        lock (_lock)
        {
            var previous = _clientQuotas;
            _clientQuotas = quotas.ToDictionary(q => q.Key, q => q.Value);
            try
            {
                Persist(_byName.Values);
            }
            catch
            {
                _clientQuotas = previous;
                throw;
            }
        }
    }

    /// <summary>
    /// The stored ACLs: an array replaced whole once its snapshot is written, so a reader needs no lock and may tell a
    /// change by the reference (the authorizer rebuilds its index when it differs).
    /// </summary>
    public IReadOnlyList<AclBinding> Acls => Volatile.Read(ref _acls);

    /// <summary>Replaces the ACLs, durably; visible only once written.</summary>
    public void SetAcls(IReadOnlyList<AclBinding> acls)
    {
        AclBinding[] replacement = [.. acls];
        lock (_lock)
        {
            Persist(_byName.Values, replacement);
            Volatile.Write(ref _acls, replacement);
        }
    }

    private IReadOnlyDictionary<string, string> ConfigsOf(Dictionary<string, Dictionary<string, string>> all, string name)
    {
        lock (_lock)
        {
            return all.TryGetValue(name, out var configs) ? new Dictionary<string, string>(configs, StringComparer.Ordinal) : new Dictionary<string, string>();
        }
    }

    // Written as a new map, so a snapshot the disk refuses leaves the old one in force.
    private void SetConfigs(ref Dictionary<string, Dictionary<string, string>> all, string name, IReadOnlyDictionary<string, string> configs)
    {
        lock (_lock)
        {
            var updated = new Dictionary<string, Dictionary<string, string>>(all, StringComparer.Ordinal);
            if (configs.Count == 0)
            {
                updated.Remove(name);
            }
            else
            {
                updated[name] = new Dictionary<string, string>(configs, StringComparer.Ordinal);
            }

            var previous = all;
            all = updated;
            try
            {
                Persist(_byName.Values);
            }
            catch
            {
                all = previous;
                throw;
            }
        }
    }

    /// <summary>Kafka's topic name rule: 1–249 characters of [a-zA-Z0-9._-], and not "." or "..".</summary>
    public static string? ValidateTopicName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "topic name is empty";
        }

        if (name is "." or "..")
        {
            return $"topic name cannot be '{name}'";
        }

        if (name.Length > TopicNameLengthMax)
        {
            return $"topic name is longer than {TopicNameLengthMax} characters";
        }

        return LegalTopicName().IsMatch(name) ? null : $"topic name '{name}' contains a character outside [a-zA-Z0-9._-]";
    }

    /// <summary>
    /// Adds a topic (with <paramref name="id"/>, a cluster topic's, else a new one); returns the existing one (and
    /// false) when the name is taken.
    /// </summary>
    public (TopicInfo Topic, bool Created) Create(string name, int partitions, IReadOnlyDictionary<string, string> configs, Guid? id = null)
    {
        lock (_lock)
        {
            if (_byName.TryGetValue(name, out var existing))
            {
                return (existing, false);
            }

            var topic = new TopicInfo(name, id ?? Guid.NewGuid(), partitions, configs);
            Persist(_byName.Values.Append(topic));
            _byName[name] = topic;
            _byId[topic.Id] = topic;
            Interlocked.Increment(ref _topicsVersion);
            return (topic, true);
        }
    }

    public TopicInfo? Delete(string name)
    {
        lock (_lock)
        {
            if (!_byName.TryGetValue(name, out var topic))
            {
                return null;
            }

            Persist(_byName.Values.Where(t => t.Name != name));
            _byName.Remove(name);
            _byId.Remove(topic.Id);
            Interlocked.Increment(ref _topicsVersion);
            return topic;
        }
    }

    public TopicInfo Update(TopicInfo topic)
    {
        lock (_lock)
        {
            Persist(_byName.Values.Where(t => t.Name != topic.Name).Append(topic));
            _byName[topic.Name] = topic;
            _byId[topic.Id] = topic;
            return topic;
        }
    }

    /// <summary>
    /// Writes <paramref name="topics"/> (and <paramref name="acls"/> when given, else those in force) as the new
    /// snapshot; the store's state is the caller's to change after.
    /// </summary>
    private void Persist(IEnumerable<TopicInfo> topics, AclBinding[]? acls = null)
    {
        acls ??= _acls;
        if (_path is null)
        {
            return;
        }

        var snapshot = new Snapshot(ClusterId, [.. topics.Select(t => new TopicRecord(t.Name, t.Id, t.PartitionCount, new Dictionary<string, string>(t.Configs)))], _brokerConfigs, _groupConfigs,
            _scramCredentials.Count > 0 ? _scramCredentials : null,
            _clientQuotas.Count > 0 ? [.. _clientQuotas.Select(q => ClientQuotaRecord.Of(q.Key, q.Value))] : null,
            acls.Length > 0 ? [.. acls] : null);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(snapshot, SnapshotJson.Default.Snapshot);
        var temp = _path + ".tmp";
        try
        {
            _device.DeleteFile(temp);
            using (var file = _device.OpenFile(temp))
            {
                file.Append(bytes);
                file.Flush();
            }

            _device.ReplaceFile(temp, _path);
        }
        catch
        {
            // The old snapshot stays in force; a partial temp file is only clutter, removed if the disk lets us.
            try
            {
                _device.DeleteFile(temp);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }

            throw;
        }
    }

    /// <summary>The stored snapshot; <see cref="InvalidDataException"/> naming the file when it is not one.</summary>
    private Snapshot ReadSnapshot(string path)
    {
        Snapshot? snapshot;
        try
        {
            snapshot = JsonSerializer.Deserialize(ReadAll(path), SnapshotJson.Default.Snapshot);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a metadata snapshot: {e.Message}", e);
        }

        // A count above the per-topic limit was never stored by a broker: opening that many logs would hold the start.
        if (snapshot?.ClusterId is null || snapshot.Topics is null
            || snapshot.Topics.Any(t => t?.Name is null || t.PartitionCount is < 0 or > BrokerConfig.PartitionsPerTopicMax || t.Configs is null))
        {
            throw new InvalidDataException($"{path} is not a metadata snapshot: a cluster id, topics, or a topic's name, partition count (0 to {BrokerConfig.PartitionsPerTopicMax}) or configs is missing or out of range");
        }

        if (snapshot.ScramCredentials?.Values.Any(byMechanism => byMechanism is null
            || byMechanism.Any(m => !SaslMechanisms.Scram.Contains(m.Key) || m.Value?.Salt is null || m.Value.StoredKey is null || m.Value.ServerKey is null
                || m.Value.Iterations is < Scram.IterationsMin or > Scram.IterationsMax)) == true)
        {
            throw new InvalidDataException($"{path} is not a metadata snapshot: a SCRAM credential has an unknown mechanism, a missing key or salt, or iterations out of range");
        }

        if (snapshot.ClientQuotas?.Any(q => q is null || !q.TryRead(out _)) == true)
        {
            throw new InvalidDataException($"{path} is not a metadata snapshot: a client quota has an unknown entity, key or value");
        }

        if (snapshot.Acls?.Any(a => a?.ResourceName is null || a.Principal is null || a.Host is null || a.Validate() is not null) == true)
        {
            throw new InvalidDataException($"{path} is not a metadata snapshot: an ACL has a missing or invalid field");
        }

        return snapshot;
    }

    private byte[] ReadAll(string path)
    {
        using var file = _device.OpenFile(path);
        var bytes = new byte[file.Length];
        var read = 0;
        while (read < bytes.Length && file.ReadAt(read, bytes.AsSpan(read)) is > 0 and var n)
        {
            read += n;
        }

        return bytes[..read];
    }

    private static string NewClusterId()
    {
        // Kafka cluster ids are 22-character URL-safe base64 of a random UUID.
        return Convert.ToBase64String(Guid.NewGuid().ToByteArray()).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>Source-generated, so snapshots read and write the same under Native AOT as under the JIT.</summary>
    [JsonSourceGenerationOptions(WriteIndented = true)]
    [JsonSerializable(typeof(Snapshot))]
    private sealed partial class SnapshotJson : JsonSerializerContext;

    // \A and \z: "$" would also match before a final newline, letting "name\n" through.
    [GeneratedRegex(@"\A[a-zA-Z0-9._-]+\z")]
    private static partial Regex LegalTopicName();

    // BrokerConfigs, GroupConfigs, ScramCredentials and Acls are absent (null) in snapshots written before they existed
    // (ScramCredentials and Acls also while there are none). ACL enums are stored as Kafka's codes.
    private sealed record Snapshot(string ClusterId, List<TopicRecord> Topics, Dictionary<string, Dictionary<string, string>>? BrokerConfigs = null,
        Dictionary<string, Dictionary<string, string>>? GroupConfigs = null,
        [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
        Dictionary<string, Dictionary<string, ScramCredential>>? ScramCredentials = null,
        [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
        List<ClientQuotaRecord>? ClientQuotas = null,
        [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
        List<AclBinding>? Acls = null);

    private sealed record TopicRecord(string Name, Guid Id, int PartitionCount, Dictionary<string, string> Configs);
}
