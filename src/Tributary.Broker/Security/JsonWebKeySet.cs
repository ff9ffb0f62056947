using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;

namespace Tributary.Broker.Security;

/// <summary>
/// The public keys of a JWKS document (RFC 7517): RSA keys (<c>n</c>, <c>e</c>) and EC keys on P-256, P-384 and
/// P-521 (<c>x</c>, <c>y</c>), as the platform's RSA and ECDsa. Symmetric (<c>oct</c>) and other keys are left out,
/// so no token can be checked with a shared secret; keys meant for encryption (<c>"use":"enc"</c>) too.
/// </summary>
public sealed class JsonWebKeySet
{
    private JsonWebKeySet(IReadOnlyList<JsonWebKey> keys) => Keys = keys;

    public IReadOnlyList<JsonWebKey> Keys { get; }

    /// <summary>The signing keys of a JWKS document; or why it is unusable (never a key's value).</summary>
    public static (JsonWebKeySet? Keys, string? Error) Parse(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array)
            {
                return (null, "a JWKS is a JSON object with a \"keys\" array");
            }

            var parsed = new List<JsonWebKey>();
            foreach (var key in keys.EnumerateArray())
            {
                if (key.ValueKind == JsonValueKind.Object && Text(key, "use") is null or "sig" && ToKey(key) is { } signing)
                {
                    parsed.Add(signing);
                }
            }

            return parsed.Count == 0 ? (null, "the JWKS has no RSA or EC signing key") : (new JsonWebKeySet(parsed), null);
        }
        catch (JsonException)
        {
            return (null, "the JWKS is not JSON");
        }
        catch (Exception e) when (e is FormatException or CryptographicException)
        {
            return (null, "the JWKS holds a key that is not a valid RSA or EC public key");
        }
    }

    /// <summary>A JWKS read from a file: URL (sasl.oauthbearer.jwks.endpoint.url); http(s) is not fetched.</summary>
    public static (JsonWebKeySet? Keys, string? Error) Load(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || !uri.IsFile)
        {
            return (null, $"sasl.oauthbearer.jwks.endpoint.url={url}: only file: URLs are supported");
        }

        try
        {
            var (keys, error) = Parse(File.ReadAllText(uri.LocalPath));
            return (keys, error is null ? null : $"sasl.oauthbearer.jwks.endpoint.url={url}: {error}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, $"sasl.oauthbearer.jwks.endpoint.url={url}: {e.Message}");
        }
    }

    private static JsonWebKey? ToKey(JsonElement key)
    {
        var kid = Text(key, "kid");
        var alg = Text(key, "alg");
        switch (Text(key, "kty"))
        {
            case "RSA" when Bytes(key, "n") is { } modulus && Bytes(key, "e") is { } exponent:
                var rsa = RSA.Create();
                rsa.ImportParameters(new RSAParameters { Modulus = modulus, Exponent = exponent });
                return new JsonWebKey(kid, alg, rsa, null);
            case "EC" when Text(key, "crv") is { } curveName && Bytes(key, "x") is { } x && Bytes(key, "y") is { } y:
                ECCurve? curve = curveName switch
                {
                    "P-256" => ECCurve.NamedCurves.nistP256,
                    "P-384" => ECCurve.NamedCurves.nistP384,
                    "P-521" => ECCurve.NamedCurves.nistP521,
                    _ => null,
                };
                if (curve is null)
                {
                    return null;
                }

                var ecdsa = ECDsa.Create();
                ecdsa.ImportParameters(new ECParameters { Curve = curve.Value, Q = new ECPoint { X = x, Y = y } });
                return new JsonWebKey(kid, alg, null, (ecdsa, curveName));
            default:
                return null;
        }
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static byte[]? Bytes(JsonElement element, string name) => Text(element, name) is { } text ? Base64Url.DecodeFromChars(text) : null;
}
