namespace Tributary.ProtocolGen;

/// <summary>
/// Versions the broker serves below the schemas' floors. Kafka 4.0 removed old versions from its schemas
/// (KIP-896), but clients still send some of them; where the schema's fields still describe such a version
/// exactly, the floor is lowered here instead of keeping a second copy of the schema.
/// </summary>
internal static class LegacyVersions
{
    private static readonly Dictionary<string, short> LowestVersion = new(StringComparer.Ordinal)
    {
        // Produce v0-2: Kafka still advertises Produce from v0 (KAFKA-18659); the fields of v3+ cover v0-2 as they are.
        ["ProduceRequest"] = 0,
        ["ProduceResponse"] = 0,
    };

    public static Versions Extend(string messageName, Versions valid) =>
        LowestVersion.TryGetValue(messageName, out var lowest) && !valid.IsEmpty && lowest < valid.Min
            ? valid with { Min = lowest }
            : valid;
}
