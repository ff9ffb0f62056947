namespace Tributary.Broker.Security.Authorization;

/// <summary>
/// Kafka's PatternType with its wire codes. A binding is LITERAL or PREFIXED; ANY and MATCH exist only in filters
/// (MATCH: every binding that would apply to the named resource, wildcards and prefixes included).
/// </summary>
public enum AclPatternType : sbyte
{
    Unknown = 0,
    Any = 1,
    Match = 2,
    Literal = 3,
    Prefixed = 4,
}
