namespace Tributary.Broker.Security;

/// <summary>
/// Kafka's broker-side OAuthBearerValidatorCallbackHandler (KIP-768): a JWT signed by a key of the JWKS
/// (sasl.oauthbearer.jwks.endpoint.url), with exp and iat required, exp and nbf checked with
/// sasl.oauthbearer.clock.skew.seconds of tolerance, aud one of sasl.oauthbearer.expected.audience and iss equal to
/// sasl.oauthbearer.expected.issuer when those are set; the principal is the sasl.oauthbearer.sub.claim.name claim.
/// Signature algorithms: RS*, PS* and ES*; alg none and HMAC (HS*) are refused.
/// </summary>
public sealed class SignedJwtValidator(JsonWebKeySet keys, OAuthBearerSettings settings, TimeProvider time) : IOAuthBearerValidator
{
    /// <summary>The handler's class name in Kafka 4 and, before it, in Kafka 3 (package secured).</summary>
    public static readonly IReadOnlyList<string> HandlerClasses =
    [
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
        "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerValidatorCallbackHandler",
    ];

    public OAuthBearerValidation Validate(string token)
    {
        var (jws, error) = CompactJws.Parse(token);
        if (jws is null)
        {
            return OAuthBearerValidation.Invalid(error!);
        }

        if (jws.Algorithm is not { } alg || alg == "none" || alg.StartsWith("HS", StringComparison.Ordinal))
        {
            return OAuthBearerValidation.Invalid($"the JWT's algorithm '{jws.Algorithm}' is not allowed (RS*, PS* or ES* only)");
        }

        var candidates = keys.Keys.Where(k => jws.KeyId is null || k.KeyId == jws.KeyId).ToList();
        if (candidates.Count == 0)
        {
            return OAuthBearerValidation.Invalid($"no key in the JWKS has the JWT's kid '{jws.KeyId}'");
        }

        if (!candidates.Any(k => k.Verifies(jws)))
        {
            return OAuthBearerValidation.Invalid($"the JWT's {alg} signature does not verify with {(jws.KeyId is null ? "any key of the JWKS" : $"key '{jws.KeyId}'")}");
        }

        var (exp, expError) = jws.NumberClaim("exp");
        var (iat, iatError) = jws.NumberClaim("iat");
        var (nbf, nbfError) = jws.NumberClaim("nbf");
        var (subject, subjectError) = jws.StringClaim(settings.SubClaimName);
        var (issuer, issuerError) = jws.StringClaim("iss");
        var (audience, audienceError) = jws.StringsClaim("aud");
        var (_, scopeError) = jws.StringsClaim(settings.ScopeClaimName);
        if ((expError ?? iatError ?? nbfError ?? subjectError ?? issuerError ?? audienceError ?? scopeError) is { } typeError)
        {
            return OAuthBearerValidation.Invalid(typeError);
        }

        if (exp is null || iat is null)
        {
            return OAuthBearerValidation.Invalid("the JWT lacks the required exp or iat claim");
        }

        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        var skewMs = settings.ClockSkewSeconds * 1000L;
        if (nowMs - skewMs >= 1000 * exp.Value)
        {
            return OAuthBearerValidation.Invalid($"the JWT expired at {exp.Value} s (now {nowMs} ms, allowed clock skew {settings.ClockSkewSeconds} s)");
        }

        if (nbf is { } notBefore && nowMs + skewMs < 1000 * notBefore)
        {
            return OAuthBearerValidation.Invalid($"the JWT is not valid before {notBefore} s (now {nowMs} ms, allowed clock skew {settings.ClockSkewSeconds} s)");
        }

        if (settings.ExpectedAudience.Count > 0 && !settings.ExpectedAudience.Any(audience.Contains))
        {
            return OAuthBearerValidation.Invalid($"the JWT's audience is none of the expected ({string.Join(", ", settings.ExpectedAudience)})");
        }

        if (settings.ExpectedIssuer is { } expectedIssuer && issuer != expectedIssuer)
        {
            return OAuthBearerValidation.Invalid($"the JWT's issuer is not the expected '{expectedIssuer}'");
        }

        if (string.IsNullOrWhiteSpace(subject))
        {
            return OAuthBearerValidation.Invalid($"the JWT has no '{settings.SubClaimName}' claim to name its principal");
        }

        return OAuthBearerValidation.Valid(subject.Trim(), (long)Math.Round(exp.Value * 1000));
    }
}
