namespace Tributary.Server.Client;

/// <summary>A SASL login the broker refused, or a broker whose answers a client must not believe; the message names no password.</summary>
public sealed class SaslLoginException(string message) : Exception(message);
