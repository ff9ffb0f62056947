using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace Tributary.Broker.Security;

/// <summary>
/// A JWT in JWS compact serialization (RFC 7515 section 7.1): <c>header.claims.signature</c>, each part base64url
/// without padding, header and claims JSON objects. Only parsed here; <see cref="UnsecuredJwsValidator"/> and
/// <see cref="SignedJwtValidator"/> decide what is acceptable. No part of the token ever goes into an error text.
/// </summary>
public sealed class CompactJws
{
    private CompactJws(JsonElement header, JsonElement claims, byte[] signingInput, byte[] signature)
    {
        Header = header;
        Claims = claims;
        SigningInput = signingInput;
        Signature = signature;
    }

    public JsonElement Header { get; }

    public JsonElement Claims { get; }

    /// <summary>The bytes the signature covers: the first two parts as sent, with the dot between them.</summary>
    public byte[] SigningInput { get; }

    public byte[] Signature { get; }

    /// <summary>The header's <c>alg</c>; null when it is missing or not a string.</summary>
    public string? Algorithm => StringOf(Header, "alg");

    /// <summary>The header's <c>kid</c>, naming the key that signed the token.</summary>
    public string? KeyId => StringOf(Header, "kid");

    public static (CompactJws? Jws, string? Error) Parse(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            return (null, $"a JWS compact serialization has 3 dot-separated parts, not {parts.Length}");
        }

        try
        {
            var header = ParseObject(parts[0]);
            var claims = ParseObject(parts[1]);
            if (header is null || claims is null)
            {
                return (null, "the JWS header or claims are not a JSON object");
            }

            return (new CompactJws(header.Value, claims.Value, Encoding.ASCII.GetBytes(token[..(parts[0].Length + 1 + parts[1].Length)]), Base64Url.DecodeFromChars(parts[2])), null);
        }
        catch (FormatException)
        {
            return (null, "a JWS part is not base64url");
        }
        catch (JsonException)
        {
            return (null, "the JWS header or claims are not JSON");
        }
    }

    /// <summary>A claim that is a number (seconds since the epoch for exp, iat, nbf): null when absent, an error when it is another type.</summary>
    public (double? Value, string? Error) NumberClaim(string name) =>
        !Claims.TryGetProperty(name, out var value) ? (null, null)
        : value.ValueKind == JsonValueKind.Number ? (value.GetDouble(), null)
        : (null, $"the '{name}' claim is not a number");

    /// <summary>A claim that is a string: null when absent, an error when it is another type.</summary>
    public (string? Value, string? Error) StringClaim(string name) =>
        !Claims.TryGetProperty(name, out var value) ? (null, null)
        : value.ValueKind == JsonValueKind.String ? (value.GetString(), null)
        : (null, $"the '{name}' claim is not a string");

    /// <summary>
    /// A claim that is a string or a list of strings, as Kafka reads scope and aud: a string is one element (not
    /// split at spaces); blank elements are dropped.
    /// </summary>
    public (IReadOnlySet<string> Values, string? Error) StringsClaim(string name)
    {
        var values = new HashSet<string>(StringComparer.Ordinal);
        if (!Claims.TryGetProperty(name, out var value))
        {
            return (values, null);
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            Add(value.GetString());
            return (values, null);
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            return (values, $"the '{name}' claim is neither a string nor a list");
        }

        foreach (var element in value.EnumerateArray())
        {
            Add(element.ValueKind == JsonValueKind.String ? element.GetString() : element.GetRawText());
        }

        return (values, null);

        void Add(string? element)
        {
            if (!string.IsNullOrWhiteSpace(element))
            {
                values.Add(element.Trim());
            }
        }
    }

    private static JsonElement? ParseObject(string part)
    {
        using var document = JsonDocument.Parse(Base64Url.DecodeFromChars(part));
        return document.RootElement.ValueKind == JsonValueKind.Object ? document.RootElement.Clone() : null;
    }

    private static string? StringOf(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
