using System.Collections.Concurrent;
using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Mvccpb;
using Tributary.Broker.Config;

namespace Tributary.Broker.Cluster;

/// <summary>
/// Dynamic configs of BROKER and GROUP resources, cluster-wide as in Kafka: written to etcd by whichever broker took
/// the AlterConfigs / IncrementalAlterConfigs, and applied by every broker from its watch (<see cref="ClusterKeys"/>).
/// </summary>
public sealed partial class ClusterNode
{
    private readonly ConcurrentDictionary<string, Versioned<Dictionary<string, string>>> _brokerConfigs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Versioned<Dictionary<string, string>>> _groupConfigs = new(StringComparer.Ordinal);

    /// <summary>
    /// Replaces a BROKER resource's dynamic configs ("" for the cluster default) in the cluster; an empty set removes
    /// them. A compare-and-swap on the revision this broker holds, so a concurrent change through another broker is
    /// not overwritten unseen (<see cref="ClusterUnavailableException"/>: retry).
    /// </summary>
    public Task SetBrokerConfigsAsync(string resourceName, IReadOnlyDictionary<string, string> configs, CancellationToken cancellationToken) =>
        SetConfigsAsync(_brokerConfigs, resourceName, _keys.BrokerConfigs(resourceName), configs, cancellationToken);

    /// <summary>Replaces a group's dynamic configs in the cluster, as <see cref="SetBrokerConfigsAsync"/>.</summary>
    public Task SetGroupConfigsAsync(string groupId, IReadOnlyDictionary<string, string> configs, CancellationToken cancellationToken) =>
        SetConfigsAsync(_groupConfigs, groupId, _keys.GroupConfigs(groupId), configs, cancellationToken);

    private async Task SetConfigsAsync(ConcurrentDictionary<string, Versioned<Dictionary<string, string>>> held, string name, string keyText, IReadOnlyDictionary<string, string> configs, CancellationToken cancellationToken)
    {
        var key = ByteString.CopyFromUtf8(keyText);
        var revision = held.TryGetValue(name, out var current) ? current.ModRevision : 0;
        var change = configs.Count == 0
            ? new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = key } }
            : new RequestOp { RequestPut = new PutRequest { Key = key, Value = Json(new Dictionary<string, string>(configs, StringComparer.Ordinal)) } };
        var response = await TxnAsync(new TxnRequest
        {
            Compare = { Unchanged(key, revision) },
            Success = { change },
        }, cancellationToken).ConfigureAwait(false);
        if (!response.Succeeded)
        {
            throw new ClusterUnavailableException($"the configs of '{name}' changed in the cluster while they were being set; try again");
        }

        // The next change through this broker compares against this one, whether or not the watch has brought it yet.
        if (configs.Count == 0)
        {
            held.TryRemove(name, out _);
        }
        else
        {
            held[name] = new Versioned<Dictionary<string, string>>(new Dictionary<string, string>(configs, StringComparer.Ordinal), response.Header.Revision);
        }
    }

    // The watch's part: keeps the revision for the next compare-and-swap and hands the configs to the broker. A key
    // or value no broker would have accepted (a newer release's, written by hand) is left out, as at start.
    private void ApplyBrokerConfigs(string resourceName, KeyValue? kv)
    {
        var configs = Valid(Track(_brokerConfigs, resourceName, kv), ConfigScope.Broker, resourceName);
        _core.MirrorClusterBrokerConfigs(resourceName, configs);
    }

    private void ApplyGroupConfigs(string groupId, KeyValue? kv)
    {
        var configs = Valid(Track(_groupConfigs, groupId, kv), ConfigScope.Group, groupId);
        _core.Metadata.SetGroupConfigs(groupId, configs);
    }

    private Dictionary<string, string> Valid(Dictionary<string, string> configs, ConfigScope scope, string resource)
    {
        var valid = configs
            .Where(c => ConfigTable.Find(scope, c.Key) is { Dynamic: true } definition && definition.Validate(c.Value) is null)
            .ToDictionary(c => c.Key, c => c.Value, StringComparer.Ordinal);
        if (valid.Count < configs.Count)
        {
            LogInvalidConfigsSkipped(_logger, scope, resource, string.Join(", ", configs.Keys.Where(k => !valid.ContainsKey(k)).Order(StringComparer.Ordinal)));
        }

        return valid;
    }

    private static Dictionary<string, string> Track(ConcurrentDictionary<string, Versioned<Dictionary<string, string>>> held, string name, KeyValue? kv)
    {
        if (kv is null)
        {
            held.TryRemove(name, out _);
            return [];
        }

        var configs = JsonSerializer.Deserialize(kv.Value.Span, ClusterJson.Default.DictionaryStringString)!;
        held.AddOrUpdate(name, new Versioned<Dictionary<string, string>>(configs, kv.ModRevision),
            (_, known) => known.ModRevision > kv.ModRevision ? known : new Versioned<Dictionary<string, string>>(configs, kv.ModRevision));
        return configs;
    }

    // Config keys a full read must treat as deleted when etcd no longer has them: those this node holds, and those
    // the broker's local store still has from before (etcd is where cluster-mode configs live).
    private IEnumerable<string> KnownConfigKeys() =>
        _brokerConfigs.Keys.Concat(_core.Metadata.BrokerConfigResources()).Select(_keys.BrokerConfigs)
            .Concat(_groupConfigs.Keys.Concat(_core.Metadata.GroupConfigResources()).Select(_keys.GroupConfigs))
            .Distinct(StringComparer.Ordinal);

    private static ByteString Json(Dictionary<string, string> value) => ByteString.CopyFromUtf8(JsonSerializer.Serialize(value, ClusterJson.Default.DictionaryStringString));

    [LoggerMessage(EventId = 1240, Level = LogLevel.Warning, Message = "{Scope} configs of '{Resource}' in etcd hold keys or values this broker does not accept; left out: {Keys}")]
    private static partial void LogInvalidConfigsSkipped(ILogger logger, ConfigScope scope, string resource, string keys);
}
