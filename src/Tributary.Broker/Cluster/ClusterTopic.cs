namespace Tributary.Broker.Cluster;

/// <summary>A topic as the cluster metadata holds it (the value of <c>topics/&lt;name&gt;</c>).</summary>
public sealed record ClusterTopic(string Name, Guid Id, int PartitionCount, Dictionary<string, string> Configs);
