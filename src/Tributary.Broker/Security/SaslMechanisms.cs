namespace Tributary.Broker.Security;

/// <summary>
/// The SASL mechanisms this broker serves, under Kafka's names, and the SCRAM mechanism numbers of
/// AlterUserScramCredentials / DescribeUserScramCredentials (Kafka's ScramMechanism: 0 unknown, 1 SHA-256, 2 SHA-512).
/// </summary>
public static class SaslMechanisms
{
    public const string Plain = "PLAIN";
    public const string ScramSha256 = "SCRAM-SHA-256";
    public const string ScramSha512 = "SCRAM-SHA-512";
    public const string OAuthBearer = "OAUTHBEARER";

    public const sbyte ScramSha256Type = 1;
    public const sbyte ScramSha512Type = 2;

    public static readonly IReadOnlyList<string> Supported = [Plain, ScramSha256, ScramSha512, OAuthBearer];

    public static readonly IReadOnlyList<string> Scram = [ScramSha256, ScramSha512];

    /// <summary>The SCRAM mechanism of a wire number; null for 0 (unknown) and anything else.</summary>
    public static string? ScramName(sbyte type) => type switch
    {
        ScramSha256Type => ScramSha256,
        ScramSha512Type => ScramSha512,
        _ => null,
    };

    public static sbyte ScramType(string mechanism) => mechanism switch
    {
        ScramSha256 => ScramSha256Type,
        ScramSha512 => ScramSha512Type,
        _ => 0,
    };
}
