namespace Tributary.Broker.Metadata;

/// <summary>A topic as the metadata store knows it. Immutable: changes replace the whole record.</summary>
public sealed record TopicInfo(string Name, Guid Id, int PartitionCount, IReadOnlyDictionary<string, string> Configs)
{
    public bool IsInternal => Name.StartsWith("__", StringComparison.Ordinal);
}
