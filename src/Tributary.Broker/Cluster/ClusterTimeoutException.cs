namespace Tributary.Broker.Cluster;

/// <summary>
/// etcd did not commit a metadata change in the time the request allowed (no quorum, or unreachable): answered as
/// Kafka's controller answers a change it could not complete in time, REQUEST_TIMED_OUT, which clients retry. As in
/// Kafka, the change may still be applied later (etcd commits a proposal it took once its quorum is back).
/// </summary>
public sealed class ClusterTimeoutException(string message, Exception? inner = null) : IOException(message, inner);
