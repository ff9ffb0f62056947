using System.Security.Cryptography;

namespace Tributary.Broker.Security;

/// <summary>One public key of a JWKS: an RSA key or an EC key and its curve's JWK name.</summary>
public sealed record JsonWebKey(string? KeyId, string? Algorithm, RSA? Rsa, (ECDsa Key, string Curve)? Ec)
{
    /// <summary>
    /// Whether <paramref name="jws"/>'s signature verifies with this key under its alg: RS* (RSASSA-PKCS1-v1_5), PS*
    /// (RSASSA-PSS) with an RSA key, ES* with an EC key on the matching curve. Any other alg (HS*, none) never does,
    /// so an HMAC token keyed with the public key's bytes is refused.
    /// </summary>
    public bool Verifies(CompactJws jws)
    {
        if (Algorithm is not null && Algorithm != jws.Algorithm)
        {
            return false;
        }

        try
        {
            return (jws.Algorithm, Rsa, Ec) switch
            {
                ("RS256", { } rsa, _) => rsa.VerifyData(jws.SigningInput, jws.Signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
                ("RS384", { } rsa, _) => rsa.VerifyData(jws.SigningInput, jws.Signature, HashAlgorithmName.SHA384, RSASignaturePadding.Pkcs1),
                ("RS512", { } rsa, _) => rsa.VerifyData(jws.SigningInput, jws.Signature, HashAlgorithmName.SHA512, RSASignaturePadding.Pkcs1),
                ("PS256", { } rsa, _) => rsa.VerifyData(jws.SigningInput, jws.Signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss),
                ("PS384", { } rsa, _) => rsa.VerifyData(jws.SigningInput, jws.Signature, HashAlgorithmName.SHA384, RSASignaturePadding.Pss),
                ("PS512", { } rsa, _) => rsa.VerifyData(jws.SigningInput, jws.Signature, HashAlgorithmName.SHA512, RSASignaturePadding.Pss),
                ("ES256", _, ({ } ec, "P-256")) => ec.VerifyData(jws.SigningInput, jws.Signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation),
                ("ES384", _, ({ } ec, "P-384")) => ec.VerifyData(jws.SigningInput, jws.Signature, HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation),
                ("ES512", _, ({ } ec, "P-521")) => ec.VerifyData(jws.SigningInput, jws.Signature, HashAlgorithmName.SHA512, DSASignatureFormat.IeeeP1363FixedFieldConcatenation),
                _ => false,
            };
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}
