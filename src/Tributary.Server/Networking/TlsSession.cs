using System.Security.Authentication;

namespace Tributary.Server.Networking;

/// <summary>
/// A connection feature set once its TLS handshake is done: the negotiated protocol and the principal of its client
/// certificate (User:NAME by ssl.principal.mapping.rules; null without a certificate).
/// </summary>
public sealed record TlsSession(SslProtocols Protocol, string? Principal);
