using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Tributary.TestSupport;

/// <summary>
/// JWTs made at test time: unsecured (alg none) and signed with a key the test creates (RS256 with RSA, ES256 with
/// P-256), plus the JWKS file that publishes the public key. No key is ever committed.
/// </summary>
public sealed class TestJwt : IDisposable
{
    private readonly RSA _rsa = RSA.Create(2048);
    private readonly ECDsa _ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public const string RsaKeyId = "rsa-1";
    public const string EcKeyId = "ec-1";

    /// <summary>The JWKS of both public keys, as an identity provider publishes it.</summary>
    public string Jwks()
    {
        var rsa = _rsa.ExportParameters(false);
        var ec = _ec.ExportParameters(false);
        return JsonSerializer.Serialize(new
        {
            keys = new object[]
            {
                new { kty = "RSA", kid = RsaKeyId, use = "sig", n = B64(rsa.Modulus!), e = B64(rsa.Exponent!) },
                new { kty = "EC", kid = EcKeyId, crv = "P-256", x = B64(ec.Q.X!), y = B64(ec.Q.Y!) },
            },
        });
    }

    /// <summary>Writes the JWKS to <paramref name="path"/> and returns its file: URL.</summary>
    public string WriteJwks(string path)
    {
        File.WriteAllText(path, Jwks());
        return new Uri(path).AbsoluteUri;
    }

    /// <summary>The public RSA key as SubjectPublicKeyInfo bytes: what an attacker would use as an HMAC secret.</summary>
    public byte[] RsaPublicKeyBytes() => _rsa.ExportSubjectPublicKeyInfo();

    public static string Unsecured(object claims) => Part(new { alg = "none" }) + "." + Part(claims) + ".";

    public string Rs256(object claims, string kid = RsaKeyId) => Sign(new { alg = "RS256", typ = "JWT", kid }, claims,
        input => _rsa.SignData(input, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

    public string Es256(object claims) => Sign(new { alg = "ES256", typ = "JWT", kid = EcKeyId }, claims,
        input => _ec.SignData(input, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));

    /// <summary>An HS256 token keyed with <paramref name="secret"/> (alg confusion: the RSA public key as the secret).</summary>
    public static string Hs256(object claims, byte[] secret, string kid = RsaKeyId) => Sign(new { alg = "HS256", typ = "JWT", kid }, claims,
        input => HMACSHA256.HashData(secret, input));

    /// <summary>A token signed by a key the JWKS does not hold, under a kid it does.</summary>
    public static string Rs256WithForeignKey(object claims)
    {
        using var other = RSA.Create(2048);
        return Sign(new { alg = "RS256", typ = "JWT", kid = RsaKeyId }, claims, input => other.SignData(input, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }

    /// <summary>Seconds since the epoch of <paramref name="time"/>, as JWT claims count them.</summary>
    public static long Seconds(DateTimeOffset time) => time.ToUnixTimeSeconds();

    private static string Sign(object header, object claims, Func<byte[], byte[]> sign)
    {
        var input = Part(header) + "." + Part(claims);
        return input + "." + B64(sign(Encoding.ASCII.GetBytes(input)));
    }

    private static string Part(object json) => B64(JsonSerializer.SerializeToUtf8Bytes(json));

    private static string B64(byte[] bytes) => Base64Url.EncodeToString(bytes);

    public void Dispose()
    {
        _rsa.Dispose();
        _ec.Dispose();
    }
}
