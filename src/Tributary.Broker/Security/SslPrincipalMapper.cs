using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;

namespace Tributary.Broker.Security;

/// <summary>
/// <c>ssl.principal.mapping.rules</c> as Kafka's SslPrincipalMapper reads it: a comma-separated list of
/// <c>RULE:pattern/replacement/</c> (optionally ended by <c>L</c> or <c>U</c> to lower- or upper-case the result) and
/// <c>DEFAULT</c> (the distinguished name as it is). The first rule whose pattern matches the whole RFC 2253 subject
/// gives the name; none matching fails the authentication.
/// </summary>
public sealed partial class SslPrincipalMapper
{
    public const string Default = "DEFAULT";

    private readonly IReadOnlyList<Rule> _rules;

    private SslPrincipalMapper(IReadOnlyList<Rule> rules) => _rules = rules;

    // Kafka's RULE_PATTERN: DEFAULT, RULE:pattern/replacement/[LU], or anything else (refused as invalid).
    private const string RulePattern = @"(DEFAULT)|RULE:((\\.|[^\\/])*)/((\\.|[^\\/])*)/([LU]?).*?|(.*?)";

    [GeneratedRegex(@"\s*(" + RulePattern + @")\s*(,\s*|$)", RegexOptions.CultureInvariant)]
    private static partial Regex RuleSplitter();

    [GeneratedRegex(@"\G(?:" + RulePattern + ")", RegexOptions.CultureInvariant)]
    private static partial Regex RuleParser();

    /// <summary>The mapper of a rules value, or the error (Kafka's "Invalid rule").</summary>
    public static (SslPrincipalMapper? Mapper, string? Error) Parse(string? value)
    {
        var rules = new List<Rule>();
        var input = (value ?? Default).Trim();
        foreach (Match split in RuleSplitter().Matches(input))
        {
            var rule = split.Groups[1].Value;
            if (rule.Length == 0)
            {
                continue;
            }

            var parsed = RuleParser().Match(rule);
            if (!parsed.Success || parsed.Length != rule.Length)
            {
                return (null, $"ssl.principal.mapping.rules: invalid rule '{rule}'");
            }

            if (parsed.Groups[1].Success)
            {
                rules.Add(new Rule(null, "", false, false));
            }
            else if (parsed.Groups[2].Success)
            {
                try
                {
                    rules.Add(new Rule(new Regex(parsed.Groups[2].Value, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)),
                        parsed.Groups[4].Value, parsed.Groups[6].Value == "L", parsed.Groups[6].Value == "U"));
                }
                catch (ArgumentException e)
                {
                    return (null, $"ssl.principal.mapping.rules: invalid pattern in '{rule}': {e.Message}");
                }
            }
        }

        return rules.Count == 0 ? (null, $"ssl.principal.mapping.rules={value}: no rule") : (new SslPrincipalMapper(rules), null);
    }

    /// <summary>The principal name a subject maps to; null when no rule applies (Kafka's NoMatchingRule).</summary>
    public string? Map(string distinguishedName)
    {
        foreach (var rule in _rules)
        {
            if (rule.Pattern is null)
            {
                return distinguishedName;
            }

            if (rule.Pattern.Match(distinguishedName) is { Success: true } m && m.Index == 0 && m.Length == distinguishedName.Length)
            {
                var result = rule.Pattern.Replace(distinguishedName, rule.Replacement);
                return rule.ToLowerCase ? result.ToLowerInvariant() : rule.ToUpperCase ? result.ToUpperInvariant() : result;
            }
        }

        return null;
    }

    /// <summary>
    /// A certificate's subject as Java's X500Principal.getName() prints it (RFC 2253): most specific first, no spaces
    /// after commas, special characters escaped with a backslash, attributes without a short name as OID=#hex.
    /// </summary>
    public static string Rfc2253(X500DistinguishedName name)
    {
        var result = new StringBuilder();
        foreach (var rdn in name.EnumerateRelativeDistinguishedNames(reversed: true))
        {
            if (result.Length > 0)
            {
                result.Append(',');
            }

            if (rdn.HasMultipleElements)
            {
                // Rare (multi-valued RDNs); the platform's own formatting, with '+' between the values.
                var writer = new System.Formats.Asn1.AsnWriter(System.Formats.Asn1.AsnEncodingRules.DER);
                using (writer.PushSequence())
                {
                    writer.WriteEncodedValue(rdn.RawData.Span);
                }

                result.Append(new X500DistinguishedName(writer.Encode()).Name.Replace(" + ", "+", StringComparison.Ordinal));
                continue;
            }

            var oid = rdn.GetSingleElementType();
            var keyword = oid.Value switch
            {
                "2.5.4.3" => "CN",
                "2.5.4.6" => "C",
                "2.5.4.7" => "L",
                "2.5.4.8" => "ST",
                "2.5.4.9" => "STREET",
                "2.5.4.10" => "O",
                "2.5.4.11" => "OU",
                "0.9.2342.19200300.100.1.25" => "DC",
                "0.9.2342.19200300.100.1.1" => "UID",
                _ => null,
            };
            if (keyword is null || rdn.GetSingleElementValue() is not { } value)
            {
                result.Append(oid.Value).Append("=#").Append(Convert.ToHexStringLower(AttributeValue(rdn.RawData)));
                continue;
            }

            result.Append(keyword).Append('=');
            for (var i = 0; i < value.Length; i++)
            {
                var c = value[i];
                if (c is ',' or '+' or '"' or '\\' or '<' or '>' or ';' || (c == '#' && i == 0) || (c == ' ' && (i == 0 || i == value.Length - 1)))
                {
                    result.Append('\\');
                }

                result.Append(c);
            }
        }

        return result.ToString();
    }

    // The DER of an RDN's single value: SET { SEQUENCE { OID, value } } → value.
    private static byte[] AttributeValue(ReadOnlyMemory<byte> rdn)
    {
        var set = new System.Formats.Asn1.AsnReader(rdn, System.Formats.Asn1.AsnEncodingRules.DER).ReadSetOf();
        var pair = set.ReadSequence();
        pair.ReadObjectIdentifier();
        return pair.ReadEncodedValue().ToArray();
    }

    public override string ToString() => string.Join(',', _rules.Select(r => r.ToString()));

    private sealed record Rule(Regex? Pattern, string Replacement, bool ToLowerCase, bool ToUpperCase)
    {
        public override string ToString() => Pattern is null ? Default
            : string.Create(CultureInfo.InvariantCulture, $"RULE:{Pattern}/{Replacement}/{(ToLowerCase ? "L" : ToUpperCase ? "U" : "")}");
    }
}
