using System.Security.Cryptography;
using System.Text;
using Tributary.Broker;
using Tributary.Broker.Security;

namespace Tributary.Server.Admin.Console;

/// <summary>
/// Checks a console login with the broker's own SASL code, as a Kafka client on the broker's first SASL listener
/// would authenticate: PLAIN against the listener's JAAS users, SCRAM against the stored credentials (the console plays
/// the SCRAM client, so the password is checked against the stored keys, never stored or compared itself). Each of the
/// listener's PLAIN and SCRAM mechanisms is tried in turn. The result is an authenticated
/// <see cref="SaslAuthenticator"/>, whose principal the console's requests act as.
/// </summary>
internal static class ConsoleLogin
{
    /// <summary>The first SASL listener, whose mechanisms and users the console's login uses; null when there is none.</summary>
    public static ListenerSecurity? SaslListener(BrokerCore core) =>
        core.Config.Listeners.Select(l => core.ListenerSecurity(l.Name)).FirstOrDefault(s => s.UsesSasl);

    public static SaslAuthenticator? Authenticate(ListenerSecurity listener, string username, string password)
    {
        foreach (var mechanism in listener.Mechanisms)
        {
            var authenticator = listener.NewAuthenticator()!;
            if (authenticator.Handshake(mechanism, 1).ErrorCode != 0)
            {
                continue;
            }

            var done = mechanism switch
            {
                SaslMechanisms.Plain => Step(authenticator, Encoding.UTF8.GetBytes($"\0{username}\0{password}")) is not null,
                _ when mechanism.StartsWith("SCRAM-", StringComparison.Ordinal) => Scram(authenticator, mechanism, username, password),
                _ => false,
            };
            if (done && authenticator.IsComplete)
            {
                return authenticator;
            }
        }

        return null;
    }

    // RFC 5802 client side: client-first, then the proof over the server's nonce, salt and iterations.
    private static bool Scram(SaslAuthenticator authenticator, string mechanism, string username, string password)
    {
        var clientNonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
        var firstBare = $"n={username.Replace("=", "=3D", StringComparison.Ordinal).Replace(",", "=2C", StringComparison.Ordinal)},r={clientNonce}";
        if (Step(authenticator, Encoding.UTF8.GetBytes("n,," + firstBare)) is not { } challenge)
        {
            return false;
        }

        var serverFirst = Encoding.UTF8.GetString(challenge);
        var fields = serverFirst.Split(',').Where(f => f.Length > 2 && f[1] == '=').ToDictionary(f => f[0], f => f[2..]);
        if (!fields.TryGetValue('r', out var nonce) || !nonce.StartsWith(clientNonce, StringComparison.Ordinal)
            || !fields.TryGetValue('s', out var salt) || !fields.TryGetValue('i', out var iterationsText)
            || !int.TryParse(iterationsText, System.Globalization.CultureInfo.InvariantCulture, out var iterations))
        {
            return false;
        }

        var hash = Broker.Security.Scram.HashOf(mechanism);
        var salted = Broker.Security.Scram.SaltedPassword(mechanism, password, Convert.FromBase64String(salt), iterations);
        var clientKey = Broker.Security.Scram.Hmac(hash, salted, "Client Key"u8);
        var storedKey = Broker.Security.Scram.Hash(hash, clientKey);
        var finalWithoutProof = "c=biws,r=" + nonce;
        var authMessage = Encoding.UTF8.GetBytes(firstBare + "," + serverFirst + "," + finalWithoutProof);
        var proof = Broker.Security.Scram.Xor(clientKey, Broker.Security.Scram.Hmac(hash, storedKey, authMessage));
        return Step(authenticator, Encoding.UTF8.GetBytes(finalWithoutProof + ",p=" + Convert.ToBase64String(proof))) is not null;
    }

    private static byte[]? Step(SaslAuthenticator authenticator, byte[] token)
    {
        var response = authenticator.Authenticate(token);
        return response.ErrorCode == 0 ? response.AuthBytes : null;
    }
}
