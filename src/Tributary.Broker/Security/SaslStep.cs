namespace Tributary.Broker.Security;

/// <summary>
/// What one token of a SASL exchange produced: the challenge to send back (empty for none), and either the user
/// once the exchange is complete or the failure. <see cref="Error"/> goes to the client and names no secret;
/// <see cref="LogReason"/> is for the broker's log (a user name, never a password or proof).
/// </summary>
public readonly record struct SaslStep(byte[] Challenge, string? User, string? Error, string? LogReason)
{
    /// <summary>When the credential stops being valid (an OAUTHBEARER token's exp), in ms since the epoch; null when it does not expire.</summary>
    public long? CredentialExpiresAtMs { get; init; }

    public bool Complete => User is not null;

    public bool Failed => Error is not null;

    public static SaslStep Continue(byte[] challenge) => new(challenge, null, null, null);

    public static SaslStep Done(string user, byte[] challenge) => new(challenge, user, null, null);

    public static SaslStep Fail(string error, string logReason) => new([], null, error, logReason);
}
