using System.Globalization;
using Google.Protobuf;

namespace Tributary.Broker.Cluster;

/// <summary>
/// The layout of one cluster's keys in etcd, under tributary.metadata.etcd.prefix:
/// <c>cluster_id</c>, <c>controller</c> (node id, bound to the controller's lease), <c>brokers/&lt;id&gt;</c> (bound to
/// each broker's lease), <c>shutdown/&lt;id&gt;</c> (a broker in controlled shutdown, bound to its lease),
/// <c>admitted/&lt;id&gt;</c> (the registration of each broker the controller has taken in, see
/// ClusterNode.Incarnations.cs), <c>topics/&lt;name&gt;</c>, <c>partitions/&lt;topic&gt;/&lt;partition&gt;</c>, <c>producer_ids</c>,
/// and the dynamic configs of BROKER and GROUP resources: <c>configs/brokers/&lt;id&gt;</c> (<c>&lt;default&gt;</c> for the
/// cluster default), <c>configs/groups/&lt;group&gt;</c>,
/// <c>acls</c> (every ACL binding of the cluster, one document), <c>client_quotas</c> (every client quota, one document) and <c>scram/&lt;user&gt;</c> (a user's SCRAM credentials by
/// mechanism; see ClusterNode.Security.cs). Values are JSON.
/// </summary>
public sealed class ClusterKeys(string prefix)
{
    // The cluster default's key name: not a node id, as in Kafka's ZooKeeper layout.
    private const string DefaultBrokerResource = "<default>";

    public string Prefix { get; } = prefix + "/";

    public string ClusterId => Prefix + "cluster_id";

    public string Controller => Prefix + "controller";

    /// <summary>The next producer id no broker has reserved (<see cref="ProducerIdBlock"/>).</summary>
    public string ProducerIds => Prefix + "producer_ids";

    /// <summary>Every ACL binding of the cluster, one document, so any change is one compare-and-swap.</summary>
    public string Acls => Prefix + "acls";

    /// <summary>Every client quota of the cluster, one document (<see cref="ClusterClientQuotas"/>).</summary>
    public string ClientQuotas => Prefix + "client_quotas";

    /// <summary>The start of the SCRAM users' keys.</summary>
    public string ScramUsers => Prefix + "scram/";

    public string ScramUser(string user) => ScramUsers + user;

    public string Broker(int nodeId) => Prefix + "brokers/" + nodeId.ToString(CultureInfo.InvariantCulture);

    public string Shutdown(int nodeId) => Prefix + "shutdown/" + nodeId.ToString(CultureInfo.InvariantCulture);

    public string Admitted(int nodeId) => Prefix + "admitted/" + nodeId.ToString(CultureInfo.InvariantCulture);

    public string Topic(string name) => Prefix + "topics/" + name;

    public string Partitions(string topic) => Prefix + "partitions/" + topic + "/";

    public string Partition(string topic, int partition) => Partitions(topic) + partition.ToString(CultureInfo.InvariantCulture);

    /// <summary>The dynamic configs of a BROKER resource: "" (the cluster default) or a node id.</summary>
    public string BrokerConfigs(string resourceName) => Prefix + "configs/brokers/" + (resourceName.Length == 0 ? DefaultBrokerResource : resourceName);

    /// <summary>A group's dynamic configs.</summary>
    public string GroupConfigs(string groupId) => Prefix + "configs/groups/" + groupId;

    /// <summary>The end of the range of keys that start with <paramref name="start"/>: its last byte plus one, as etcd's prefix reads take.</summary>
    public static ByteString RangeEnd(string start)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(start);
        bytes[^1]++;
        return ByteString.CopyFrom(bytes);
    }

    /// <summary>What a key under the prefix names; <see cref="ClusterKeyKind.Other"/> for keys this version does not know.</summary>
    public (ClusterKeyKind Kind, string Name, int Number) Parse(string key)
    {
        if (!key.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return (ClusterKeyKind.Other, "", 0);
        }

        var rest = key[Prefix.Length..];
        if (rest == "controller")
        {
            return (ClusterKeyKind.Controller, "", 0);
        }

        if (rest == "cluster_id")
        {
            return (ClusterKeyKind.ClusterId, "", 0);
        }

        if (rest.StartsWith("brokers/", StringComparison.Ordinal) && int.TryParse(rest["brokers/".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            return (ClusterKeyKind.Broker, "", id);
        }

        if (rest.StartsWith("shutdown/", StringComparison.Ordinal) && int.TryParse(rest["shutdown/".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var stopping))
        {
            return (ClusterKeyKind.Shutdown, "", stopping);
        }

        if (rest.StartsWith("admitted/", StringComparison.Ordinal) && int.TryParse(rest["admitted/".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var admitted))
        {
            return (ClusterKeyKind.Admitted, "", admitted);
        }

        if (rest == "acls")
        {
            return (ClusterKeyKind.Acls, "", 0);
        }

        if (rest == "client_quotas")
        {
            return (ClusterKeyKind.ClientQuotas, "", 0);
        }

        if (rest.StartsWith("scram/", StringComparison.Ordinal) && rest.Length > "scram/".Length)
        {
            return (ClusterKeyKind.ScramUser, rest["scram/".Length..], 0);
        }

        if (rest.StartsWith("topics/", StringComparison.Ordinal))
        {
            return (ClusterKeyKind.Topic, rest["topics/".Length..], 0);
        }

        if (rest.StartsWith("configs/brokers/", StringComparison.Ordinal))
        {
            var resource = rest["configs/brokers/".Length..];
            return (ClusterKeyKind.BrokerConfigs, resource == DefaultBrokerResource ? "" : resource, 0);
        }

        if (rest.StartsWith("configs/groups/", StringComparison.Ordinal))
        {
            return (ClusterKeyKind.GroupConfigs, rest["configs/groups/".Length..], 0);
        }

        if (rest.StartsWith("partitions/", StringComparison.Ordinal))
        {
            var path = rest["partitions/".Length..];
            var slash = path.LastIndexOf('/');
            if (slash > 0 && int.TryParse(path[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var partition))
            {
                return (ClusterKeyKind.Partition, path[..slash], partition);
            }
        }

        return (ClusterKeyKind.Other, "", 0);
    }
}

public enum ClusterKeyKind
{
    Other,
    ClusterId,
    Controller,
    Broker,
    Topic,
    Partition,
    Shutdown,
    Admitted,
    BrokerConfigs,
    GroupConfigs,
    Acls,
    ScramUser,
    ClientQuotas,
}
