namespace Tributary.Broker.Cluster;

/// <summary>
/// etcd did not answer a metadata change (unreachable, no quorum, deadline passed). An <see cref="IOException"/>, so
/// admin handlers answer it as they answer a refused metadata write: nothing changed, and the client may retry.
/// </summary>
public sealed class ClusterUnavailableException(string message, Exception? inner = null) : IOException(message, inner);
