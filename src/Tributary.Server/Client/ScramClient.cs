using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Tributary.Broker.Security;

namespace Tributary.Server.Client;

/// <summary>
/// The client's side of SCRAM-SHA-256/512 (RFC 5802, RFC 7677) over the broker's own primitives: a client-first
/// message with a random nonce, the client-final message with its proof, and the check of the server's signature, so
/// that a server that does not know the password is not believed. Used by the CLI and by inter-broker connections.
/// </summary>
public sealed class ScramClient
{
    private readonly string _mechanism;
    private readonly string _password;
    private readonly string _nonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
    private readonly string _clientFirstBare;
    private byte[]? _serverSignature;

    public ScramClient(string mechanism, string username, string password)
    {
        _mechanism = mechanism;
        _password = password;
        // RFC 5802 section 5.1: ',' and '=' in a user name are sent as =2C and =3D.
        _clientFirstBare = $"n={username.Replace("=", "=3D", StringComparison.Ordinal).Replace(",", "=2C", StringComparison.Ordinal)},r={_nonce}";
    }

    public byte[] ClientFirst() => Encoding.UTF8.GetBytes("n,," + _clientFirstBare);

    /// <summary>The client-final message answering the server-first one; throws <see cref="SaslLoginException"/> on a malformed or suspicious answer.</summary>
    public byte[] ClientFinal(byte[] serverFirstBytes)
    {
        var serverFirst = Encoding.UTF8.GetString(serverFirstBytes);
        var fields = Fields(serverFirst);
        if (!fields.TryGetValue('r', out var nonce) || !nonce.StartsWith(_nonce, StringComparison.Ordinal) || nonce.Length == _nonce.Length
            || !fields.TryGetValue('s', out var saltText) || !fields.TryGetValue('i', out var iterationsText)
            || !int.TryParse(iterationsText, NumberStyles.None, CultureInfo.InvariantCulture, out var iterations))
        {
            throw new SaslLoginException($"{_mechanism}: the broker's first message is not a SCRAM server-first message");
        }

        // Kafka's client refuses fewer iterations than the mechanism's minimum: a weak hash would leak the password.
        if (iterations < Scram.IterationsMin)
        {
            throw new SaslLoginException($"{_mechanism}: the broker asked for {iterations} iterations, fewer than {Scram.IterationsMin}");
        }

        byte[] salt;
        try
        {
            salt = Convert.FromBase64String(saltText);
        }
        catch (FormatException)
        {
            throw new SaslLoginException($"{_mechanism}: the broker's salt is not base64");
        }

        var hash = Scram.HashOf(_mechanism);
        var salted = Scram.SaltedPassword(_mechanism, _password, salt, iterations);
        var clientKey = Scram.Hmac(hash, salted, "Client Key"u8);
        var withoutProof = "c=biws,r=" + nonce;
        var authMessage = Encoding.UTF8.GetBytes($"{_clientFirstBare},{serverFirst},{withoutProof}");
        var proof = Scram.Xor(clientKey, Scram.Hmac(hash, Scram.Hash(hash, clientKey), authMessage));
        _serverSignature = Scram.Hmac(hash, Scram.Hmac(hash, salted, "Server Key"u8), authMessage);
        return Encoding.UTF8.GetBytes($"{withoutProof},p={Convert.ToBase64String(proof)}");
    }

    /// <summary>Checks the server-final message: its signature (v=) must be the one only a holder of the credential can make.</summary>
    public void CheckServerFinal(byte[] serverFinalBytes)
    {
        var fields = Fields(Encoding.UTF8.GetString(serverFinalBytes));
        if (fields.TryGetValue('e', out var error))
        {
            throw new SaslLoginException($"{_mechanism}: the broker refused: {error}");
        }

        byte[]? signature = null;
        try
        {
            signature = fields.TryGetValue('v', out var text) ? Convert.FromBase64String(text) : null;
        }
        catch (FormatException)
        {
        }

        if (_serverSignature is null || signature is null || !CryptographicOperations.FixedTimeEquals(signature, _serverSignature))
        {
            throw new SaslLoginException($"{_mechanism}: the broker's signature is wrong; it does not hold this user's credential");
        }
    }

    private static Dictionary<char, string> Fields(string message)
    {
        var fields = new Dictionary<char, string>();
        foreach (var field in message.Split(','))
        {
            if (field.Length >= 2 && field[1] == '=')
            {
                fields.TryAdd(field[0], field[2..]);
            }
        }

        return fields;
    }
}
