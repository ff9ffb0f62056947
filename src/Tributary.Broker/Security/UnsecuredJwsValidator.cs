using System.Globalization;

namespace Tributary.Broker.Security;

/// <summary>
/// Kafka's OAuthBearerUnsecuredValidatorCallbackHandler, for development: a JWS with <c>"alg":"none"</c> and no
/// signature, so anyone can name any principal. Its JAAS options: <c>unsecuredValidatorPrincipalClaimName</c>
/// (default sub), <c>unsecuredValidatorScopeClaimName</c> (default scope), <c>unsecuredValidatorRequiredScope</c>
/// (space-separated), <c>unsecuredValidatorAllowableClockSkewMs</c> (default 0). exp is required, iat optional, and
/// when both are there exp must be after iat.
/// </summary>
public sealed class UnsecuredJwsValidator : IOAuthBearerValidator
{
    public const string HandlerClass = "org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler";

    private readonly string _principalClaim;
    private readonly string _scopeClaim;
    private readonly IReadOnlyList<string> _requiredScope;
    private readonly long _clockSkewMs;
    private readonly TimeProvider _time;

    private UnsecuredJwsValidator(string principalClaim, string scopeClaim, IReadOnlyList<string> requiredScope, long clockSkewMs, TimeProvider time)
    {
        _principalClaim = principalClaim;
        _scopeClaim = scopeClaim;
        _requiredScope = requiredScope;
        _clockSkewMs = clockSkewMs;
        _time = time;
    }

    /// <summary>The validator of a listener's OAUTHBEARER JAAS options; or the error naming the bad option.</summary>
    public static (UnsecuredJwsValidator? Validator, string? Error) FromJaasOptions(IReadOnlyDictionary<string, string> options, TimeProvider time)
    {
        var skew = options.GetValueOrDefault("unsecuredValidatorAllowableClockSkewMs")?.Trim();
        long skewMs = 0;
        if (!string.IsNullOrEmpty(skew) && (!long.TryParse(skew, NumberStyles.None, CultureInfo.InvariantCulture, out skewMs) || skewMs > int.MaxValue))
        {
            return (null, "unsecuredValidatorAllowableClockSkewMs must be a non-negative integer");
        }

        var required = options.GetValueOrDefault("unsecuredValidatorRequiredScope") ?? "";
        return (new UnsecuredJwsValidator(
            NonBlank(options.GetValueOrDefault("unsecuredValidatorPrincipalClaimName"), "sub"),
            NonBlank(options.GetValueOrDefault("unsecuredValidatorScopeClaimName"), "scope"),
            required.Split(' ', StringSplitOptions.RemoveEmptyEntries),
            skewMs,
            time), null);
    }

    public OAuthBearerValidation Validate(string token)
    {
        if (token.Contains("..", StringComparison.Ordinal))
        {
            return OAuthBearerValidation.Invalid("malformed compact serialization contains '..'");
        }

        var (jws, error) = CompactJws.Parse(token);
        if (jws is null)
        {
            return OAuthBearerValidation.Invalid(error!);
        }

        if (jws.Algorithm != "none")
        {
            return OAuthBearerValidation.Invalid("an unsecured JWS must have 'none' for an algorithm");
        }

        if (jws.Signature.Length > 0)
        {
            return OAuthBearerValidation.Invalid("an unsecured JWS must not contain a digital signature");
        }

        var (scope, scopeError) = jws.StringsClaim(_scopeClaim);
        var (exp, expError) = jws.NumberClaim("exp");
        var (iat, iatError) = jws.NumberClaim("iat");
        var (principal, principalError) = jws.StringClaim(_principalClaim);
        if ((scopeError ?? expError ?? iatError ?? principalError) is { } typeError)
        {
            return OAuthBearerValidation.Invalid(typeError);
        }

        if (exp is null)
        {
            return OAuthBearerValidation.Invalid("no expiration time (exp) in the JWT");
        }

        if (string.IsNullOrWhiteSpace(principal))
        {
            return OAuthBearerValidation.Invalid($"no principal name in the JWT claim '{_principalClaim}'");
        }

        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (iat is { } issued && 1000 * issued > nowMs + _clockSkewMs)
        {
            return OAuthBearerValidation.Invalid($"issued at {issued} s, after now ({nowMs} ms) plus the allowable clock skew ({_clockSkewMs} ms)");
        }

        if (nowMs - _clockSkewMs >= 1000 * exp.Value)
        {
            return OAuthBearerValidation.Invalid($"expired at {exp.Value} s: now ({nowMs} ms) minus the allowable clock skew ({_clockSkewMs} ms) is on or after it");
        }

        if (iat is { } issuedAt && exp.Value <= issuedAt)
        {
            return OAuthBearerValidation.Invalid($"the expiration time ({exp.Value} s) is not after the issued-at time ({issuedAt} s)");
        }

        if (_requiredScope.FirstOrDefault(s => !scope.Contains(s)) is { } missing)
        {
            // Kafka names the required scope as Java prints a list: [a, b].
            return new OAuthBearerValidation(null, 0, OAuthBearerValidation.InsufficientScope, "[" + string.Join(", ", _requiredScope) + "]",
                $"the token's scope lacks the required '{missing}'");
        }

        return OAuthBearerValidation.Valid(principal, (long)Math.Round(exp.Value * 1000));
    }

    private static string NonBlank(string? value, string otherwise) => string.IsNullOrWhiteSpace(value) ? otherwise : value.Trim();
}
