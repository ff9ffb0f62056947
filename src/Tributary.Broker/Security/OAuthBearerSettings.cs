namespace Tributary.Broker.Security;

/// <summary>The broker's sasl.oauthbearer.* keys that <see cref="SignedJwtValidator"/> reads (KIP-768).</summary>
public sealed record OAuthBearerSettings(
    string? JwksEndpointUrl,
    IReadOnlyList<string> ExpectedAudience,
    string? ExpectedIssuer,
    string SubClaimName,
    string ScopeClaimName,
    int ClockSkewSeconds);
