using System.Globalization;
using System.Text;
using Tributary.Storage.Devices;

namespace Tributary.Broker.InternalTopics;

/// <summary>
/// The offset from which an internal topic's records are in Kafka's format; records below it were written by a
/// release that used Tributary's own layout. Kept in the file <c>&lt;topic&gt;.kafka-format</c> of the data
/// directory (the offset in ASCII decimal), replaced in one step (temp + rename). Without a data directory (in
/// memory) every record is in Kafka's format.
/// </summary>
internal sealed class KafkaFormatMarker(ILogDevice? device, string? directory, string topic)
{
    private readonly string? _path = device is null || directory is null ? null : Path.Combine(directory, topic + ".kafka-format");

    /// <summary>The stored offset; null when no release with Kafka's format has written the topic yet.</summary>
    public long? Read()
    {
        if (_path is null)
        {
            return 0;
        }

        if (!device!.FileExists(_path))
        {
            return null;
        }

        using var file = device.OpenFile(_path);
        var bytes = new byte[Math.Min(file.Length, 32)];
        var read = file.ReadAt(0, bytes);
        var text = Encoding.ASCII.GetString(bytes, 0, read).Trim();
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
            ? offset
            : throw new InvalidDataException($"{_path} does not hold an offset: \"{text}\"");
    }

    /// <summary>Records that every record from <paramref name="offset"/> on is in Kafka's format.</summary>
    public void Write(long offset)
    {
        if (_path is null)
        {
            return;
        }

        var temp = _path + ".tmp";
        device!.DeleteFile(temp);
        using (var file = device.OpenFile(temp))
        {
            file.Append(Encoding.ASCII.GetBytes(offset.ToString(CultureInfo.InvariantCulture) + "\n"));
            file.Flush();
        }

        device.ReplaceFile(temp, _path);
    }
}
