using System.Text;
using Tributary.Storage.Devices;

namespace Tributary.Storage;

/// <summary>
/// Kafka's checkpoint files as text: written to a temp file, flushed, then renamed over the old one, so a crash leaves
/// either the old or the new content, never a mix.
/// </summary>
internal static class CheckpointFile
{
    public const string TempSuffix = ".tmp";

    /// <summary>The text of <paramref name="path"/> (at most <paramref name="bytesMax"/> bytes); null when missing or longer.</summary>
    public static string? Read(ILogDevice device, string path, int bytesMax)
    {
        if (!device.FileExists(path))
        {
            return null;
        }

        using var file = device.OpenFile(path);
        if (file.Length > bytesMax)
        {
            return null;
        }

        var bytes = new byte[file.Length];
        var read = 0;
        while (read < bytes.Length && file.ReadAt(read, bytes.AsSpan(read)) is > 0 and var n)
        {
            read += n;
        }

        return Encoding.ASCII.GetString(bytes.AsSpan(0, read));
    }

    public static void Write(ILogDevice device, string path, string text)
    {
        var tempPath = path + TempSuffix;
        device.DeleteFile(tempPath);
        using (var file = device.OpenFile(tempPath))
        {
            file.Append(Encoding.ASCII.GetBytes(text));
            file.Flush();
        }

        device.ReplaceFile(tempPath, path);
    }
}
