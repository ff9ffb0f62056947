using System.Globalization;
using System.Text;
using Tributary.Storage.Devices;

namespace Tributary.Broker.Transactions;

/// <summary>
/// Hands out producer ids that are unique across restarts. Ids come in blocks of <see cref="BlockSize"/>: before the
/// first id of a block is used, the start of the next block is written to <c>producer-id-block.checkpoint</c> in the
/// data directory (temp file, fsync, rename: a crash leaves the old or the new value), so a restart continues after
/// every id that may have been handed out, skipping at most the rest of a block. Format: a version line (0), then the
/// next block start, as Kafka's checkpoint files. Without a directory (in-memory broker) it is a plain counter. The
/// file goes through the logs' <see cref="ILogDevice"/>, so a failing disk fails it as it fails them.
/// </summary>
internal sealed class ProducerIdManager
{
    public const string FileName = "producer-id-block.checkpoint";

    /// <summary>Ids per persisted block: one file write per this many InitProducerId calls.</summary>
    public const long BlockSize = 1000;

    private const string Version = "0";

    private readonly string? _path;
    private readonly ILogDevice _device;
    private readonly Lock _lock = new();
    private long _next;
    private long _blockEnd;

    public ProducerIdManager(string? dataDirectory, ILogDevice? device = null)
    {
        _device = device ?? FileLogDevice.Instance;
        if (dataDirectory is not null)
        {
            _path = Path.Combine(dataDirectory, FileName);
            _next = _blockEnd = ReadCheckpoint(_device, _path);
        }
    }

    public long Next()
    {
        lock (_lock)
        {
            if (_next == _blockEnd && _path is not null)
            {
                WriteCheckpoint(_device, _path, _blockEnd + BlockSize);
                _blockEnd += BlockSize;
            }
            else if (_path is null)
            {
                _blockEnd = long.MaxValue;
            }

            return _next++;
        }
    }

    private static long ReadCheckpoint(ILogDevice device, string path)
    {
        if (!device.FileExists(path))
        {
            return 0;
        }

        string text;
        using (var file = device.OpenFile(path))
        {
            var bytes = new byte[Math.Min(file.Length, 256)];
            text = Encoding.ASCII.GetString(bytes.AsSpan(0, file.ReadAt(0, bytes)));
        }

        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return lines.Length == 2 && lines[0] == Version && long.TryParse(lines[1], NumberStyles.None, CultureInfo.InvariantCulture, out var next)
            ? next
            : throw new InvalidDataException($"{path} is not a producer id checkpoint (expected '0' and a number)");
    }

    // Temp file, fsync, rename; a refused write throws and leaves the old checkpoint (and the block) in force.
    private static void WriteCheckpoint(ILogDevice device, string path, long nextBlockStart)
    {
        var temp = path + ".tmp";
        device.DeleteFile(temp);
        using (var file = device.OpenFile(temp))
        {
            file.Append(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Version}\n{nextBlockStart}\n")));
            file.Flush();
        }

        device.ReplaceFile(temp, path);
    }
}
