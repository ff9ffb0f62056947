using System.Globalization;
using Tributary.Storage.Devices;

namespace Tributary.Broker.Cluster;

/// <summary>
/// The id of a broker's data directory, as KIP-858 keeps <c>directory.id</c> in each log directory's
/// <c>meta.properties</c>: made once, when the directory has none, and kept in the file <c>directory.id</c>. A broker
/// that comes back with another id lost its disk (ClusterNode.Incarnations.cs). In memory every start is a new disk.
/// </summary>
public static class DataDirectoryId
{
    public const string FileName = "directory.id";

    public static Guid LoadOrCreate(string? directory)
    {
        if (directory is null)
        {
            return Guid.NewGuid();
        }

        var path = Path.Combine(directory, FileName);
        if (File.Exists(path) && Guid.TryParse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture, out var existing))
        {
            return existing;
        }

        // Written whole to a temporary file, flushed, then renamed: a crash leaves no half-written id.
        var id = Guid.NewGuid();
        var temporary = path + ".tmp";
        using (var file = new FileStream(temporary, PrivateFiles.StreamOptions(FileMode.Create, FileAccess.Write)))
        {
            file.Write(System.Text.Encoding.ASCII.GetBytes(id.ToString("D", CultureInfo.InvariantCulture) + "\n"));
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
        return id;
    }
}
