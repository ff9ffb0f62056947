namespace Tributary.Broker.Cluster;

/// <summary>
/// The broker's etcd settings cannot work: a certificate or key file that cannot be read, a server certificate not
/// trusted, a user or password etcd refuses. The message names the key to fix. An <see cref="IOException"/>, so the
/// CLI ends the start with that one line rather than a stack trace.
/// </summary>
public sealed class EtcdConfigurationException(string message, Exception? inner = null) : IOException(message, inner);
