using System.Security.Cryptography;
using System.Text;

namespace Tributary.Broker.Security;

/// <summary>
/// SASL/PLAIN (RFC 4616) as Kafka's PlainSaslServer: one token <c>[authzid] NUL user NUL password</c> checked
/// against the listener's users; an authorization id other than the user is refused. Messages are Kafka's.
/// </summary>
public sealed class PlainExchange(IReadOnlyDictionary<string, string> users) : ISaslExchange
{
    private const string InvalidCredentials = "Authentication failed: Invalid username or password";

    private bool _done;

    public string Mechanism => SaslMechanisms.Plain;

    public SaslStep Evaluate(ReadOnlySpan<byte> token)
    {
        if (_done)
        {
            return SaslStep.Fail("Authentication failed: PLAIN takes one token", "a second PLAIN token");
        }

        _done = true;
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(token);
        }
        catch (DecoderFallbackException)
        {
            return SaslStep.Fail("Invalid SASL/PLAIN response: not UTF-8", "PLAIN token is not UTF-8");
        }

        var parts = text.Split('\0');
        if (parts.Length != 3)
        {
            return SaslStep.Fail($"Invalid SASL/PLAIN response: expected 3 tokens, got {parts.Length}", "malformed PLAIN token");
        }

        var (authorizationId, user, password) = (parts[0], parts[1], parts[2]);
        if (user.Length == 0)
        {
            return SaslStep.Fail("Authentication failed: username not specified", "PLAIN without a user name");
        }

        if (password.Length == 0)
        {
            return SaslStep.Fail("Authentication failed: password not specified", $"PLAIN without a password for user '{user}'");
        }

        if (authorizationId.Length > 0 && authorizationId != user)
        {
            return SaslStep.Fail("Authentication failed: Client requested an authorization id that is different from username",
                $"PLAIN user '{user}' asked to act as '{authorizationId}'");
        }

        // Hashes of equal length compared in constant time: the time taken says nothing about the stored password.
        var known = users.TryGetValue(user, out var expected);
        var match = CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(expected ?? "")), SHA256.HashData(Encoding.UTF8.GetBytes(password)));
        return known && match
            ? SaslStep.Done(user, [])
            : SaslStep.Fail(InvalidCredentials, known ? $"wrong PLAIN password for user '{user}'" : $"unknown PLAIN user '{user}'");
    }
}
