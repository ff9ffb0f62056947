using System.Globalization;
using System.Text;
using Tributary.Storage.Devices;
using Tributary.Storage.Segments;

namespace Tributary.Storage.Cleaning;

/// <summary>
/// How the cleaner replaces segments so that a crash at any point leaves the old segments or the new one, as Kafka
/// does with <c>.cleaned</c> and <c>.swap</c> files:
/// <list type="number">
/// <item>the new segment is written and flushed as <c>B.log.cleaned</c> (and its indexes), B being the base offset
/// of the first old segment;</item>
/// <item><c>B.swaprange</c> is written and flushed: the base offset of the last old segment it replaces;</item>
/// <item>the new files are renamed to <c>.swap</c>, indexes first: the rename of <c>B.log.swap</c> commits;</item>
/// <item>the old segments' files are deleted;</item>
/// <item>the <c>.swap</c> files are renamed to their final names, the log last, and <c>B.swaprange</c> deleted.</item>
/// </list>
/// <see cref="Recover"/> runs before a partition's segments are opened: with <c>B.log.swap</c> present it finishes
/// steps 4 and 5, otherwise it deletes whatever a swap left behind.
/// </summary>
internal static class SegmentSwap
{
    public const string CleanedSuffix = ".cleaned";
    public const string SwapSuffix = ".swap";
    public const string RangeSuffix = ".swaprange";

    private const string Version = "0";

    private static readonly string[] SegmentSuffixes = [LogSegment.LogSuffix, LogSegment.IndexSuffix, LogSegment.TimeIndexSuffix, LogSegment.TxnIndexSuffix];

    public static void WriteRange(ILogDevice device, string directory, long baseOffset, long lastOldBaseOffset)
    {
        var path = LogSegment.PathOf(directory, baseOffset, RangeSuffix);
        device.DeleteFile(path);
        using var file = device.OpenFile(path);
        file.Append(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Version}\n{lastOldBaseOffset}\n")));
        file.Flush();
    }

    public static void DeleteRange(ILogDevice device, string directory, long baseOffset) =>
        device.DeleteFile(LogSegment.PathOf(directory, baseOffset, RangeSuffix));

    /// <summary>Finishes a committed swap and removes the files of an uncommitted one. Returns how many swaps it finished.</summary>
    public static int Recover(ILogDevice device, string directory)
    {
        var files = device.ListFiles(directory);
        var finished = 0;
        foreach (var name in files)
        {
            if (!LogSegment.TryParseBaseOffset(name, LogSegment.LogSuffix + SwapSuffix, out var baseOffset))
            {
                continue;
            }

            // The range is written before the commit and deleted after the final rename, so it is here; if it is
            // not (a damaged disk), only the segment the swap is named after is replaced.
            var lastOldBaseOffset = ReadRange(device, directory, baseOffset) ?? baseOffset;
            foreach (var other in files)
            {
                foreach (var suffix in SegmentSuffixes)
                {
                    if (LogSegment.TryParseBaseOffset(other, suffix, out var oldBase) && oldBase >= baseOffset && oldBase <= lastOldBaseOffset)
                    {
                        device.DeleteFile(Path.Combine(directory, other));
                    }
                }
            }

            foreach (var suffix in new[] { LogSegment.IndexSuffix, LogSegment.TimeIndexSuffix, LogSegment.TxnIndexSuffix, LogSegment.LogSuffix })
            {
                var swapPath = LogSegment.PathOf(directory, baseOffset, suffix + SwapSuffix);
                if (device.FileExists(swapPath))
                {
                    device.ReplaceFile(swapPath, LogSegment.PathOf(directory, baseOffset, suffix));
                }
            }

            finished++;
        }

        // Leftovers: files of swaps that never committed, and ranges of finished ones.
        foreach (var name in device.ListFiles(directory))
        {
            if (name.EndsWith(CleanedSuffix, StringComparison.Ordinal) || name.EndsWith(SwapSuffix, StringComparison.Ordinal)
                || name.EndsWith(RangeSuffix, StringComparison.Ordinal))
            {
                device.DeleteFile(Path.Combine(directory, name));
            }
        }

        return finished;
    }

    private static long? ReadRange(ILogDevice device, string directory, long baseOffset)
    {
        var path = LogSegment.PathOf(directory, baseOffset, RangeSuffix);
        if (!device.FileExists(path))
        {
            return null;
        }

        using var file = device.OpenFile(path);
        var bytes = new byte[Math.Min(file.Length, 256)];
        var lines = Encoding.ASCII.GetString(bytes.AsSpan(0, file.ReadAt(0, bytes))).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return lines.Length == 2 && lines[0] == Version && long.TryParse(lines[1], NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
            ? offset
            : null;
    }
}
