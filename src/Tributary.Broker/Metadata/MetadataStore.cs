using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tributary.Broker.Metadata;

/// <summary>
/// Topics (names, ids, partition counts, configs) and the cluster id. Every change is written as a whole
/// snapshot to <c>__tributary_metadata.json</c> through a temporary file and an atomic rename, so a crash leaves
/// either the old or the new state. With no directory it lives in memory only.
/// </summary>
public sealed partial class MetadataStore
{
    public const string FileName = "__tributary_metadata.json";
    public const int TopicNameLengthMax = 249;

    private readonly string? _path;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, TopicInfo> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<Guid, TopicInfo> _byId = [];

    public MetadataStore(string? directory)
    {
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
            _path = Path.Combine(directory, FileName);
            if (File.Exists(_path))
            {
                var snapshot = JsonSerializer.Deserialize<Snapshot>(File.ReadAllBytes(_path))
                    ?? throw new InvalidDataException($"{_path} is empty");
                ClusterId = snapshot.ClusterId;
                foreach (var t in snapshot.Topics)
                {
                    var topic = new TopicInfo(t.Name, t.Id, t.PartitionCount, t.Configs);
                    _byName[topic.Name] = topic;
                    _byId[topic.Id] = topic;
                }

                return;
            }
        }

        ClusterId = NewClusterId();
        Persist();
    }

    public string ClusterId { get; }

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

    /// <summary>Adds a topic; returns the existing one (and false) when the name is taken.</summary>
    public (TopicInfo Topic, bool Created) Create(string name, int partitions, IReadOnlyDictionary<string, string> configs)
    {
        lock (_lock)
        {
            if (_byName.TryGetValue(name, out var existing))
            {
                return (existing, false);
            }

            var topic = new TopicInfo(name, Guid.NewGuid(), partitions, configs);
            _byName[name] = topic;
            _byId[topic.Id] = topic;
            Persist();
            return (topic, true);
        }
    }

    public TopicInfo? Delete(string name)
    {
        lock (_lock)
        {
            if (!_byName.Remove(name, out var topic))
            {
                return null;
            }

            _byId.Remove(topic.Id);
            Persist();
            return topic;
        }
    }

    public TopicInfo Update(TopicInfo topic)
    {
        lock (_lock)
        {
            _byName[topic.Name] = topic;
            _byId[topic.Id] = topic;
            Persist();
            return topic;
        }
    }

    private void Persist()
    {
        if (_path is null)
        {
            return;
        }

        var snapshot = new Snapshot(ClusterId, [.. _byName.Values.Select(t => new TopicRecord(t.Name, t.Id, t.PartitionCount, new Dictionary<string, string>(t.Configs)))]);
        var temp = _path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(stream, snapshot, SnapshotOptions);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, _path, overwrite: true);
    }

    private static string NewClusterId()
    {
        // Kafka cluster ids are 22-character URL-safe base64 of a random UUID.
        return Convert.ToBase64String(Guid.NewGuid().ToByteArray()).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    private static readonly JsonSerializerOptions SnapshotOptions = new() { WriteIndented = true };

    // \A and \z: "$" would also match before a final newline, letting "name\n" through.
    [GeneratedRegex(@"\A[a-zA-Z0-9._-]+\z")]
    private static partial Regex LegalTopicName();

    private sealed record Snapshot(string ClusterId, List<TopicRecord> Topics);

    private sealed record TopicRecord(string Name, Guid Id, int PartitionCount, Dictionary<string, string> Configs);
}
