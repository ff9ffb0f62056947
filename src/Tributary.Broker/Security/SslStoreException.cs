namespace Tributary.Broker.Security;

/// <summary>A keystore or truststore that cannot be read; the message names the key and file, never a secret.</summary>
public sealed class SslStoreException(string message) : IOException(message);
