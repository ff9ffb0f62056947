using System.Text.Json.Serialization;

namespace Tributary.Broker.Cluster;

/// <summary>The JSON of the records kept in etcd, generated at build time (no reflection, so Native AOT works).</summary>
[JsonSerializable(typeof(PartitionState))]
[JsonSerializable(typeof(ClusterBroker))]
[JsonSerializable(typeof(BrokerAdmission))]
[JsonSerializable(typeof(ClusterTopic))]
[JsonSerializable(typeof(ProducerIdBlock))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(ClusterAcls))]
[JsonSerializable(typeof(ClusterScramUser))]
[JsonSerializable(typeof(ClusterClientQuotas))]
internal sealed partial class ClusterJson : JsonSerializerContext;
