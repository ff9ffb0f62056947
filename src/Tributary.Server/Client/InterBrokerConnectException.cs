namespace Tributary.Server.Client;

/// <summary>
/// A peer broker that cannot be reached on the inter-broker listener: it registered no endpoint of it, the TLS
/// handshake failed, or it refused this broker's login. An <see cref="IOException"/>, so callers that retry a lost
/// connection retry this too.
/// </summary>
public sealed class InterBrokerConnectException(string message, Exception? inner = null) : IOException(message, inner);
