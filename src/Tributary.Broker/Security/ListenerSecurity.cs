namespace Tributary.Broker.Security;

/// <summary>
/// How one listener authenticates its connections: its security protocol (from listener.security.protocol.map) and,
/// for SASL_PLAINTEXT and SASL_SSL, the enabled mechanisms, PLAIN's users and where SCRAM credentials come from. A PLAINTEXT
/// listener's connections act as User:ANONYMOUS.
/// </summary>
/// <param name="ScramCredentials">the stored credential of (user, mechanism); null when there is none.</param>
/// <param name="ReceiveBytesMax">sasl.server.max.receive.size: largest frame a client may send before it is authenticated.</param>
public sealed record ListenerSecurity(
    string Name,
    string Protocol,
    IReadOnlyList<string> Mechanisms,
    IReadOnlyDictionary<string, string> PlainUsers,
    Func<string, string, ScramCredential?> ScramCredentials,
    TimeSpan FailedAuthenticationDelay,
    int ReceiveBytesMax,
    TimeProvider Time)
{
    public const string Plaintext = "PLAINTEXT";
    public const string SaslPlaintext = "SASL_PLAINTEXT";
    public const string Ssl = "SSL";
    public const string SaslSsl = "SASL_SSL";

    public bool UsesSasl => Protocol is SaslPlaintext or SaslSsl;

    /// <summary>SSL and SASL_SSL listeners speak TLS; a SASL_SSL connection's principal is its SASL one.</summary>
    public bool UsesTls => Protocol is Ssl or SaslSsl;

    /// <summary>The per-connection state machine of a SASL listener; null for a PLAINTEXT one.</summary>
    public SaslAuthenticator? NewAuthenticator() => UsesSasl ? new SaslAuthenticator(this) : null;

    public ISaslExchange NewExchange(string mechanism) => mechanism == SaslMechanisms.Plain
        ? new PlainExchange(PlainUsers)
        : new ScramExchange(mechanism, user => ScramCredentials(user, mechanism));
}
