using System.Globalization;
using Tributary.Storage.Devices;

namespace Tributary.Storage;

/// <summary>
/// The partition's log start offset, kept in <c>log-start-offset.checkpoint</c> inside the partition directory so
/// DeleteRecords survives a restart (the first segment may still hold offsets below it). The text format follows
/// Kafka's checkpoint files: a version line (0) then the value. Written to a temp file, flushed, then renamed
/// over the old one, so a crash leaves either the old or the new value.
/// </summary>
internal static class LogStartOffsetCheckpoint
{
    public const string FileName = "log-start-offset.checkpoint";
    public const string TempSuffix = CheckpointFile.TempSuffix;

    private const string Version = "0";

    public static long? Read(ILogDevice device, string directory)
    {
        var text = CheckpointFile.Read(device, Path.Combine(directory, FileName), bytesMax: 256);
        var lines = text?.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return lines is [Version, var value] && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
            ? offset
            : null;
    }

    public static void Write(ILogDevice device, string directory, long logStartOffset) =>
        CheckpointFile.Write(device, Path.Combine(directory, FileName), string.Create(CultureInfo.InvariantCulture, $"{Version}\n{logStartOffset}\n"));
}
