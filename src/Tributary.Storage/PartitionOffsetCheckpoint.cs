using System.Globalization;
using System.Text;
using Tributary.Storage.Devices;

namespace Tributary.Storage;

/// <summary>
/// Kafka's per-partition offset checkpoint files of a data directory (<c>cleaner-offset-checkpoint</c>,
/// <c>recovery-point-offset-checkpoint</c>): a version line (0), a count line, then one "topic partition offset" line
/// per entry. Written atomically (<see cref="CheckpointFile"/>).
/// </summary>
internal static class PartitionOffsetCheckpoint
{
    /// <summary>Room for about 200,000 partitions' lines; a larger file is treated as damaged.</summary>
    private const int FileBytesMax = 64 << 20;

    private const string Version = "0";

    /// <summary>The entries; empty when there is no file, and null (with the reason) when it cannot be parsed.</summary>
    public static Dictionary<(string Topic, int Partition), long>? Read(ILogDevice device, string path, out string? problem)
    {
        problem = null;
        if (!device.FileExists(path))
        {
            return [];
        }

        var text = CheckpointFile.Read(device, path, FileBytesMax);
        if (text is null)
        {
            problem = $"it is larger than {FileBytesMax} bytes";
            return null;
        }

        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length < 2 || lines[0] != Version || !int.TryParse(lines[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count != lines.Length - 2)
        {
            problem = "its version or entry count is not Kafka's format 0";
            return null;
        }

        var entries = new Dictionary<(string Topic, int Partition), long>(count);
        foreach (var line in lines.AsSpan(2))
        {
            var fields = line.Split(' ');
            if (fields.Length != 3
                || !LogManager.IsValidTopicName(fields[0])
                || !int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var partition)
                || !long.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
            {
                problem = $"the line '{line}' is not 'topic partition offset'";
                return null;
            }

            entries[(fields[0], partition)] = offset;
        }

        return entries;
    }

    public static void Write(ILogDevice device, string path, IReadOnlyCollection<(string Topic, int Partition, long Offset)> entries)
    {
        var text = new StringBuilder();
        text.Append(Version).Append('\n').Append(entries.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        foreach (var (topic, partition, offset) in entries)
        {
            text.Append(CultureInfo.InvariantCulture, $"{topic} {partition} {offset}\n");
        }

        CheckpointFile.Write(device, path, text.ToString());
    }
}
