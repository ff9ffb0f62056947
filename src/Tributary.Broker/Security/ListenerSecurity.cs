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

    /// <summary>How OAUTHBEARER tokens are checked on this listener; null when OAUTHBEARER is not enabled on it.</summary>
    public IOAuthBearerValidator? OAuthBearer { get; init; }

    /// <summary>
    /// connections.max.reauth.ms of a mechanism on this listener (KIP-368): a session's longest life before the client
    /// must re-authenticate; 0 or less: none beyond the credential's own expiry.
    /// </summary>
    public Func<string, long> ConnectionsMaxReauthMs { get; init; } = _ => 0;

    public ISaslExchange NewExchange(string mechanism) => mechanism switch
    {
        SaslMechanisms.Plain => new PlainExchange(PlainUsers),
        SaslMechanisms.OAuthBearer => new OAuthBearerExchange(OAuthBearer ?? throw new InvalidOperationException($"OAUTHBEARER is enabled on listener {Name} without a validator")),
        _ => new ScramExchange(mechanism, user => ScramCredentials(user, mechanism)),
    };
}
