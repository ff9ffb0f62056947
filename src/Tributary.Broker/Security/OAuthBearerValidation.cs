namespace Tributary.Broker.Security;

/// <param name="ExpiresAtMs">the token's exp in ms since the epoch: the credential's end for KIP-368 session lifetimes.</param>
/// <param name="ErrorStatus">invalid_token or insufficient_scope (RFC 6750 section 3.1); null when valid.</param>
/// <param name="ErrorScope">with insufficient_scope, the scope that was required.</param>
/// <param name="LogReason">why it is invalid, for the broker's log: never the token.</param>
public readonly record struct OAuthBearerValidation(string? Principal, long ExpiresAtMs, string? ErrorStatus, string? ErrorScope, string? LogReason)
{
    public const string InvalidToken = "invalid_token";
    public const string InsufficientScope = "insufficient_scope";

    public bool IsValid => ErrorStatus is null;

    public static OAuthBearerValidation Valid(string principal, long expiresAtMs) => new(principal, expiresAtMs, null, null, null);

    public static OAuthBearerValidation Invalid(string logReason) => new(null, 0, InvalidToken, null, logReason);

    /// <summary>The JSON error Kafka's OAuthBearerSaslServer sends as the server challenge (RFC 7628 section 3.2.2).</summary>
    public string ErrorJson() => ErrorScope is null
        ? $"{{\"status\":\"{ErrorStatus}\"}}"
        : $"{{\"status\":\"{ErrorStatus}\", \"scope\":\"{ErrorScope}\"}}";
}
