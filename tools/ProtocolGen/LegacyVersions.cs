namespace Tributary.ProtocolGen;

/// <summary>
/// Versions the broker serves below the schemas' floors. Kafka 4.0 removed old versions from its schemas
/// (KIP-896), but clients still send some of them (kafka-python, sarama, kafkajs, Burrow). A floor is lowered
/// here, and the few fields that only the removed versions carried are declared again, at the place and with
/// the versions Kafka's earlier schemas gave them; everything else the 4.2 fields already describe.
/// Not lowered: Fetch v0-3 (they carry only the old message formats, which this broker refuses).
/// </summary>
internal static class LegacyVersions
{
    private static readonly Dictionary<string, short> LowestVersion = new(StringComparer.Ordinal)
    {
        ["ProduceRequest"] = 0, // Kafka still advertises Produce from v0 (KAFKA-18659)
        ["ProduceResponse"] = 0,
        ["ListOffsetsRequest"] = 0,
        ["ListOffsetsResponse"] = 0,
        ["OffsetCommitRequest"] = 0,
        ["OffsetCommitResponse"] = 0,
        ["OffsetFetchRequest"] = 0,
        ["OffsetFetchResponse"] = 0,
        ["DescribeConfigsRequest"] = 0,
        ["DescribeConfigsResponse"] = 0,
        ["CreateTopicsRequest"] = 0,
        ["CreateTopicsResponse"] = 0,
        ["DeleteTopicsRequest"] = 0,
        ["DeleteTopicsResponse"] = 0,
    };

    /// <summary>Fields of removed versions: message, path of struct fields, the field it follows, the field.</summary>
    private static readonly (string Message, string Path, string After, FieldSpec Field)[] Removed =
    [
        ("ListOffsetsRequest", "Topics.Partitions", "Timestamp", new FieldSpec { Name = "MaxNumOffsets", Type = "int32", Versions = Versions.Parse("0"), Default = "1" }),
        ("ListOffsetsResponse", "Topics.Partitions", "ErrorCode", new FieldSpec { Name = "OldStyleOffsets", Type = "[]int64", Versions = Versions.Parse("0") }),
        ("OffsetCommitRequest", "Topics.Partitions", "CommittedLeaderEpoch", new FieldSpec { Name = "CommitTimestamp", Type = "int64", Versions = Versions.Parse("1"), Default = "-1" }),
        ("DescribeConfigsResponse", "Results.Configs", "ReadOnly", new FieldSpec { Name = "IsDefault", Type = "bool", Versions = Versions.Parse("0") }),
    ];

    public static Versions Extend(string messageName, Versions valid) =>
        LowestVersion.TryGetValue(messageName, out var lowest) && !valid.IsEmpty && lowest < valid.Min
            ? valid with { Min = lowest }
            : valid;

    /// <summary>Adds the removed versions' fields of <paramref name="messageName"/> to its parsed fields.</summary>
    public static void AddRemovedFields(string messageName, List<FieldSpec> fields)
    {
        foreach (var (message, path, after, field) in Removed.Where(r => r.Message == messageName))
        {
            var list = fields;
            foreach (var step in path.Split('.'))
            {
                list = list.Single(f => f.Name == step).Fields ?? throw new InvalidOperationException($"{message}.{path}: {step} has no fields");
            }

            if (list.Any(f => f.Name == field.Name))
            {
                throw new InvalidOperationException($"{message}.{path} has {field.Name} already: drop it from LegacyVersions");
            }

            list.Insert(list.FindIndex(f => f.Name == after) is var i and >= 0 ? i + 1 : throw new InvalidOperationException($"{message}.{path} has no {after}"), field);
        }
    }
}
