using System.Globalization;
using System.Text;
using Tributary.Broker.Security;

namespace Tributary.Broker.Tests.Security;

/// <summary>The client's side of SCRAM (RFC 5802) for tests: its final message, answering a server-first message.</summary>
internal static class ScramTestClient
{
    /// <returns>The client-final message, the salted password and the auth message (to check the server's signature).</returns>
    public static (string Message, byte[] SaltedPassword, byte[] AuthMessage) FinalMessage(string mechanism, string password, string clientFirstBare, string serverFirst)
    {
        var fields = serverFirst.Split(',').ToDictionary(f => f[..1], f => f[2..]);
        var hash = Scram.HashOf(mechanism);
        var salted = Scram.SaltedPassword(mechanism, password, Convert.FromBase64String(fields["s"]), int.Parse(fields["i"], CultureInfo.InvariantCulture));
        var clientKey = Scram.Hmac(hash, salted, "Client Key"u8);
        var withoutProof = "c=biws,r=" + fields["r"];
        var authMessage = Encoding.UTF8.GetBytes($"{clientFirstBare},{serverFirst},{withoutProof}");
        var proof = Scram.Xor(clientKey, Scram.Hmac(hash, Scram.Hash(hash, clientKey), authMessage));
        return ($"{withoutProof},p={Convert.ToBase64String(proof)}", salted, authMessage);
    }
}
