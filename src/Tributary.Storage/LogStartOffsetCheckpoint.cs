using System.Globalization;
using System.Text;
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
    public const string TempSuffix = ".tmp";

    private const string Version = "0";

    public static long? Read(ILogDevice device, string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!device.FileExists(path))
        {
            return null;
        }

        using var file = device.OpenFile(path);
        var bytes = new byte[Math.Min(file.Length, 256)];
        var text = Encoding.ASCII.GetString(bytes.AsSpan(0, file.ReadAt(0, bytes)));
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return lines.Length == 2 && lines[0] == Version
            && long.TryParse(lines[1], NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
            ? offset
            : null;
    }

    public static void Write(ILogDevice device, string directory, long logStartOffset)
    {
        var path = Path.Combine(directory, FileName);
        var tempPath = path + TempSuffix;
        device.DeleteFile(tempPath);
        using (var file = device.OpenFile(tempPath))
        {
            file.Append(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Version}\n{logStartOffset}\n")));
            file.Flush();
        }

        device.ReplaceFile(tempPath, path);
    }
}
