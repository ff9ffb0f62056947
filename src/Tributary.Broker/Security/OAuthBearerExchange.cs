using System.Text;
using System.Text.RegularExpressions;

namespace Tributary.Broker.Security;

/// <summary>
/// SASL/OAUTHBEARER (RFC 7628, KIP-255) as Kafka's OAuthBearerSaslServer: the client's first message
/// <c>n,[a=authzid],^Aauth=Bearer TOKEN^A[key=value^A…]^A</c> carries the token, which the listener's validator
/// checks. A valid token completes the exchange (an authorization id, if sent, must equal the principal); an invalid
/// one is answered with the JSON error as a challenge, the client acknowledges it with a lone ^A, and only then the
/// exchange fails, with that JSON as the message. Extensions are accepted and not used.
/// </summary>
public sealed partial class OAuthBearerExchange(IOAuthBearerValidator validator) : ISaslExchange
{
    private const byte Separator = 0x01;
    private const string InvalidCredentials = "Authentication failed during authentication due to invalid credentials with SASL mechanism OAUTHBEARER";

    private string? _errorJson;
    private string? _errorReason;
    private bool _done;

    public string Mechanism => SaslMechanisms.OAuthBearer;

    public SaslStep Evaluate(ReadOnlySpan<byte> token)
    {
        if (_errorJson is not null)
        {
            // After the error challenge only the acknowledgement may come (RFC 7628 section 3.2.3).
            _done = true;
            return token is [Separator]
                ? SaslStep.Fail(_errorJson, _errorReason!)
                : SaslStep.Fail(InvalidCredentials, "OAUTHBEARER message after an error challenge that is not the ^A acknowledgement");
        }

        if (_done)
        {
            return SaslStep.Fail(InvalidCredentials, "OAUTHBEARER message after the exchange ended");
        }

        _done = true;
        if (ParseClientFirst(token) is not { } first)
        {
            return SaslStep.Fail(InvalidCredentials, "invalid OAUTHBEARER client first message");
        }

        var validation = validator.Validate(first.Token);
        if (!validation.IsValid)
        {
            _done = false;
            _errorJson = validation.ErrorJson();
            _errorReason = "token refused: " + validation.LogReason;
            return SaslStep.Continue(Encoding.UTF8.GetBytes(_errorJson));
        }

        if (first.AuthorizationId.Length > 0 && first.AuthorizationId != validation.Principal)
        {
            return SaslStep.Fail(
                $"Authentication failed: Client requested an authorization id ({first.AuthorizationId}) that is different from the token's principal name ({validation.Principal})",
                $"OAUTHBEARER principal '{validation.Principal}' asked to act as '{first.AuthorizationId}'");
        }

        return SaslStep.Done(validation.Principal!, []) with { CredentialExpiresAtMs = validation.ExpiresAtMs };
    }

    /// <summary>
    /// The client first message as Kafka's OAuthBearerClientInitialResponse reads it: gs2 header <c>n,</c> and an
    /// optional <c>a=</c> authorization id, then ^A-separated key=value pairs ended by ^A^A, one of them
    /// <c>auth=Bearer TOKEN</c>. Null when it is malformed.
    /// </summary>
    private static (string AuthorizationId, string Token)? ParseClientFirst(ReadOnlySpan<byte> message)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(message);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }

        var match = ClientFirstPattern().Match(text);
        if (!match.Success)
        {
            return null;
        }

        string? auth = null;
        foreach (var pair in match.Groups["pairs"].Value.Split('\u0001', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (pair[..equals] == "auth")
            {
                auth = pair[(equals + 1)..];
            }
        }

        return auth is not null && AuthPattern().Match(auth) is { Success: true } bearer && bearer.Groups["scheme"].Value.Equals("bearer", StringComparison.OrdinalIgnoreCase)
            ? (match.Groups["authzid"].Value, bearer.Groups["token"].Value)
            : null;
    }

    [GeneratedRegex(@"^n,(a=(?<authzid>(?:[\x01-\x7F-[=,]]|=2C|=3D)+))?,\x01(?<pairs>(?:[A-Za-z]+=[\x21-\x7E \t\r\n]+\x01)*)\x01\z")]
    private static partial Regex ClientFirstPattern();

    [GeneratedRegex(@"^(?<scheme>\w+) +(?<token>[-_.a-zA-Z0-9]+)\z")]
    private static partial Regex AuthPattern();
}
