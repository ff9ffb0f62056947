using Tributary.Storage.Devices;

namespace Tributary.Storage.Cleaning;

/// <summary>
/// Kafka's <c>cleaner-offset-checkpoint</c> in the data directory: per compacted partition, the offset its next clean
/// starts from, so a restart does not clean every log from its start again (<see cref="PartitionOffsetCheckpoint"/>'s format).
/// </summary>
internal static class CleanerOffsetCheckpoint
{
    public const string FileName = "cleaner-offset-checkpoint";

    /// <summary>The entries; empty when there is no file, and null (with the reason) when it cannot be parsed.</summary>
    public static Dictionary<(string Topic, int Partition), long>? Read(ILogDevice device, string dataDirectory, out string? problem) =>
        PartitionOffsetCheckpoint.Read(device, Path.Combine(dataDirectory, FileName), out problem);

    public static void Write(ILogDevice device, string dataDirectory, IReadOnlyCollection<(string Topic, int Partition, long Offset)> entries) =>
        PartitionOffsetCheckpoint.Write(device, Path.Combine(dataDirectory, FileName), entries);
}
