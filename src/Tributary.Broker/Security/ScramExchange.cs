using System.Security.Cryptography;
using System.Text;

namespace Tributary.Broker.Security;

/// <summary>
/// The server side of SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka's ScramSaslServer: client-first
/// (gs2 header "n", no channel binding) → server-first (nonce, salt, iterations) → client-final (proof) →
/// server-final (signature). Every failure answers the same message, so a client learns nothing of which user exists
/// or what was wrong; the reason goes to the log only.
/// </summary>
public sealed class ScramExchange : ISaslExchange
{
    private const int NonceBytes = 24;

    private readonly Func<string, ScramCredential?> _credentials;
    private readonly string _serverNonce;
    private readonly HashAlgorithmName _hash;
    private State _state;
    private string _user = "";
    private string _gs2Header = "";
    private string _nonce = "";
    private string _clientFirstBare = "";
    private string _serverFirst = "";
    private ScramCredential? _credential;

    /// <param name="credentials">the stored credential of a user for this mechanism; null when there is none.</param>
    /// <param name="serverNonce">the server's part of the nonce; random unless a test fixes it (RFC 7677's vector).</param>
    public ScramExchange(string mechanism, Func<string, ScramCredential?> credentials, string? serverNonce = null)
    {
        _hash = Scram.HashOf(mechanism);
        Mechanism = mechanism;
        _credentials = credentials;
        _serverNonce = serverNonce ?? Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(NonceBytes));
    }

    private enum State
    {
        ClientFirst,
        ClientFinal,
        Done,
    }

    public string Mechanism { get; }

    private string InvalidCredentials => $"Authentication failed during authentication due to invalid credentials with SASL mechanism {Mechanism}";

    public SaslStep Evaluate(ReadOnlySpan<byte> token)
    {
        string message;
        try
        {
            message = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(token);
        }
        catch (DecoderFallbackException)
        {
            return Fail("SCRAM message is not UTF-8");
        }

        switch (_state)
        {
            case State.ClientFirst:
                return ClientFirst(message);
            case State.ClientFinal:
                return ClientFinal(message);
            default:
                return Fail("SCRAM message after the exchange ended");
        }
    }

    // client-first-message = gs2-header client-first-message-bare; gs2-header = "n," [ "a=" authzid ] ","
    private SaslStep ClientFirst(string message)
    {
        if (!message.StartsWith("n,", StringComparison.Ordinal))
        {
            return Fail("SCRAM client-first message without gs2 header \"n\" (channel binding is not supported)");
        }

        var headerEnd = message.IndexOf(',', 2);
        if (headerEnd < 0)
        {
            return Fail("malformed SCRAM client-first message");
        }

        var authorizationId = message[2..headerEnd];
        _gs2Header = message[..(headerEnd + 1)];
        _clientFirstBare = message[(headerEnd + 1)..];
        var fields = _clientFirstBare.Split(',');
        if (fields.Length < 2 || !fields[0].StartsWith("n=", StringComparison.Ordinal) || !fields[1].StartsWith("r=", StringComparison.Ordinal) || fields[1].Length == 2)
        {
            return Fail("malformed SCRAM client-first message");
        }

        if (DecodeSaslName(fields[0][2..]) is not { Length: > 0 } user)
        {
            return Fail("SCRAM user name is empty or badly escaped");
        }

        if (authorizationId.Length > 0 && (!authorizationId.StartsWith("a=", StringComparison.Ordinal) || DecodeSaslName(authorizationId[2..]) != user))
        {
            return Fail($"SCRAM user '{user}' asked for another authorization id");
        }

        _user = user;
        _credential = _credentials(user);
        if (_credential is null)
        {
            return Fail($"no {Mechanism} credential for user '{user}'");
        }

        _nonce = fields[1][2..] + _serverNonce;
        _serverFirst = $"r={_nonce},s={Convert.ToBase64String(_credential.Salt)},i={_credential.Iterations}";
        _state = State.ClientFinal;
        return SaslStep.Continue(Encoding.UTF8.GetBytes(_serverFirst));
    }

    // client-final-message = "c=" base64(gs2-header) ",r=" nonce ["," extensions] ",p=" base64(ClientProof)
    private SaslStep ClientFinal(string message)
    {
        _state = State.Done;
        var proofStart = message.LastIndexOf(",p=", StringComparison.Ordinal);
        if (proofStart < 0)
        {
            return Fail($"SCRAM client-final message of user '{_user}' without a proof");
        }

        var withoutProof = message[..proofStart];
        var fields = withoutProof.Split(',');
        if (fields.Length < 2 || fields[0] != "c=" + Convert.ToBase64String(Encoding.UTF8.GetBytes(_gs2Header)))
        {
            return Fail($"SCRAM client-final message of user '{_user}' with a wrong channel binding");
        }

        // Kafka checks that the nonce ends with the one it sent, not that it equals it: librdkafka 2.0 sends the client
        // nonce twice. The proof covers the message as sent, so the server's nonce is what counts.
        if (!fields[1].StartsWith("r=", StringComparison.Ordinal) || !fields[1].EndsWith(_nonce, StringComparison.Ordinal))
        {
            return Fail($"SCRAM client-final message of user '{_user}' with a wrong nonce");
        }

        byte[] proof;
        try
        {
            proof = Convert.FromBase64String(message[(proofStart + 3)..]);
        }
        catch (FormatException)
        {
            return Fail($"SCRAM proof of user '{_user}' is not base64");
        }

        var credential = _credential!;
        var authMessage = Encoding.UTF8.GetBytes($"{_clientFirstBare},{_serverFirst},{withoutProof}");
        var clientSignature = Scram.Hmac(_hash, credential.StoredKey, authMessage);
        if (proof.Length != clientSignature.Length
            || !CryptographicOperations.FixedTimeEquals(Scram.Hash(_hash, Scram.Xor(proof, clientSignature)), credential.StoredKey))
        {
            return Fail($"wrong SCRAM proof (password) for user '{_user}'");
        }

        var serverSignature = Scram.Hmac(_hash, credential.ServerKey, authMessage);
        return SaslStep.Done(_user, Encoding.UTF8.GetBytes("v=" + Convert.ToBase64String(serverSignature)));
    }

    private SaslStep Fail(string logReason)
    {
        _state = State.Done;
        return SaslStep.Fail(InvalidCredentials, logReason);
    }

    // saslname: "," and "=" are sent as "=2C" and "=3D"; any other "=" is malformed (RFC 5802 section 5.1).
    private static string? DecodeSaslName(string name)
    {
        var result = new StringBuilder(name.Length);
        for (var i = 0; i < name.Length; i++)
        {
            if (name[i] != '=')
            {
                result.Append(name[i]);
                continue;
            }

            var escape = i + 3 <= name.Length ? name.Substring(i, 3) : "";
            if (escape == "=2C")
            {
                result.Append(',');
            }
            else if (escape == "=3D")
            {
                result.Append('=');
            }
            else
            {
                return null;
            }

            i += 2;
        }

        return result.ToString();
    }
}
