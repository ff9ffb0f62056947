namespace Tributary.Broker.Security;

/// <summary>
/// Checks an OAUTHBEARER token, as a Kafka server callback handler answers an OAuthBearerValidatorCallback: the
/// principal and the token's expiry, or the RFC 6750 error status (and missing scope) the client is told.
/// </summary>
public interface IOAuthBearerValidator
{
    OAuthBearerValidation Validate(string token);
}
