using System.Security.Cryptography;
using System.Text;

namespace Tributary.Broker.Security;

/// <summary>
/// The functions of RFC 5802 section 3 for SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 7677), all from the platform's
/// cryptography: Hi is PBKDF2 with HMAC-H, H is SHA-2, proofs are compared in constant time.
/// </summary>
public static class Scram
{
    /// <summary>Fewest iterations Kafka accepts for a stored credential (ScramMechanism.minIterations).</summary>
    public const int IterationsMin = 4096;

    /// <summary>Most iterations Kafka accepts (ScramMechanism.maxIterations): bounds the work one login costs.</summary>
    public const int IterationsMax = 16384;

    public static HashAlgorithmName HashOf(string mechanism) => mechanism switch
    {
        SaslMechanisms.ScramSha256 => HashAlgorithmName.SHA256,
        SaslMechanisms.ScramSha512 => HashAlgorithmName.SHA512,
        _ => throw new ArgumentException($"{mechanism} is not a SCRAM mechanism", nameof(mechanism)),
    };

    /// <summary>Hi(password, salt, i): PBKDF2 with HMAC-H and an output of H's size.</summary>
    public static byte[] SaltedPassword(string mechanism, string password, byte[] salt, int iterations)
    {
        var hash = HashOf(mechanism);
        return Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, hash, HashBytes(hash));
    }

    public static byte[] Hmac(HashAlgorithmName hash, byte[] key, ReadOnlySpan<byte> data) =>
        hash == HashAlgorithmName.SHA512 ? HMACSHA512.HashData(key, data) : HMACSHA256.HashData(key, data);

    public static byte[] Hash(HashAlgorithmName hash, ReadOnlySpan<byte> data) =>
        hash == HashAlgorithmName.SHA512 ? SHA512.HashData(data) : SHA256.HashData(data);

    public static int HashBytes(HashAlgorithmName hash) => hash == HashAlgorithmName.SHA512 ? 64 : 32;

    /// <summary>The credential a server keeps (RFC 5802: StoredKey = H(HMAC(SaltedPassword, "Client Key"))), never the password.</summary>
    public static ScramCredential Credential(string mechanism, byte[] saltedPassword, byte[] salt, int iterations)
    {
        var hash = HashOf(mechanism);
        var clientKey = Hmac(hash, saltedPassword, "Client Key"u8);
        return new ScramCredential(salt, iterations, Hash(hash, clientKey), Hmac(hash, saltedPassword, "Server Key"u8));
    }

    /// <summary>A credential for <paramref name="password"/> with a fresh random salt (embedded broker, tests).</summary>
    public static ScramCredential Credential(string mechanism, string password, int iterations = IterationsMin)
    {
        var salt = RandomNumberGenerator.GetBytes(32);
        return Credential(mechanism, SaltedPassword(mechanism, password, salt, iterations), salt, iterations);
    }

    public static byte[] Xor(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        var result = new byte[a.Length];
        for (var i = 0; i < a.Length; i++)
        {
            result[i] = (byte)(a[i] ^ b[i]);
        }

        return result;
    }
}
