using System.Globalization;
using System.Text;
using Tributary.Storage.Devices;

namespace Tributary.Storage;

/// <summary>
/// Kafka's leader-epoch cache of one partition: for each leader epoch, the first offset written in it, kept in
/// <c>leader-epoch-checkpoint</c> in the partition directory (Kafka's version 0 text format: a version line, a count
/// line, then one <c>epoch startOffset</c> line per epoch, oldest first). A replica answers OffsetsForLeaderEpoch from
/// it and a follower truncates by it (KIP-101/279). Epochs and start offsets only grow; a truncated log drops the
/// entries from its new end on. Every change is written through before the method returns. Callers serialize changes
/// (the log's append lock); reads take a snapshot.
/// </summary>
public sealed class LeaderEpochCache
{
    public const string FileName = "leader-epoch-checkpoint";

    /// <summary>Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET.</summary>
    public const int UndefinedEpoch = -1;

    public const long UndefinedOffset = -1;

    private const string Version = "0";

    /// <summary>Entries one checkpoint may hold; a longer file is damaged and read as empty (as a missing one).</summary>
    private const int EntriesMax = 100_000;

    private readonly ILogDevice _device;
    private readonly string _path;
    private volatile EpochEntry[] _entries;

    private LeaderEpochCache(ILogDevice device, string path, EpochEntry[] entries)
    {
        _device = device;
        _path = path;
        _entries = entries;
    }

    /// <summary>The epochs and their start offsets, oldest first.</summary>
    public IReadOnlyList<EpochEntry> Entries => _entries;

    /// <summary>The newest epoch, or <see cref="UndefinedEpoch"/> when none is known.</summary>
    public int LatestEpoch => _entries is [.., var last] ? last.Epoch : UndefinedEpoch;

    /// <summary>
    /// Reads the checkpoint of <paramref name="directory"/>; a missing or damaged file is an empty cache. Entries at or
    /// past <paramref name="logEndOffset"/> (the log lost its tail since) are dropped.
    /// </summary>
    internal static LeaderEpochCache Load(ILogDevice device, string directory, long logEndOffset)
    {
        var path = Path.Combine(directory, FileName);
        var cache = new LeaderEpochCache(device, path, Parse(CheckpointFile.Read(device, path, bytesMax: EntriesMax * 42)) ?? []);
        cache.TruncateFromEnd(logEndOffset);
        return cache;
    }

    private static EpochEntry[]? Parse(string? text)
    {
        var lines = text?.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines is not [Version, var countLine, ..] || !int.TryParse(countLine, NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            || count != lines.Length - 2)
        {
            return null;
        }

        var entries = new EpochEntry[count];
        for (var i = 0; i < count; i++)
        {
            var parts = lines[i + 2].Split(' ');
            if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var epoch)
                || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
                || (i > 0 && (epoch <= entries[i - 1].Epoch || offset < entries[i - 1].StartOffset)))
            {
                return null;
            }

            entries[i] = new EpochEntry(epoch, offset);
        }

        return entries;
    }

    /// <summary>
    /// Records that <paramref name="epoch"/> starts at <paramref name="startOffset"/>, if it is newer than the latest
    /// epoch (as Kafka's assign: an older or equal epoch changes nothing). An entry of an older epoch starting at or
    /// after <paramref name="startOffset"/> is replaced: it never wrote anything.
    /// </summary>
    public bool Assign(int epoch, long startOffset)
    {
        var entries = _entries;
        if (epoch < 0 || (entries.Length > 0 && epoch <= entries[^1].Epoch))
        {
            return false;
        }

        var kept = entries.Where(e => e.StartOffset < startOffset).Append(new EpochEntry(epoch, startOffset)).ToArray();
        Write(kept);
        return true;
    }

    /// <summary>Drops the entries that start at or after <paramref name="endOffset"/> (the log was truncated there).</summary>
    public void TruncateFromEnd(long endOffset)
    {
        var entries = _entries;
        if (entries.Length > 0 && entries[^1].StartOffset >= endOffset)
        {
            Write([.. entries.Where(e => e.StartOffset < endOffset)]);
        }
    }

    /// <summary>
    /// Kafka's endOffsetFor: the largest epoch at or below <paramref name="requestedEpoch"/> and the offset where it
    /// ended (the start of the next epoch; <paramref name="logEndOffset"/> for the latest). A requested epoch below every
    /// known one answers itself and the first start offset; one above every known one, or none known, is undefined.
    /// </summary>
    public (int Epoch, long EndOffset) EndOffsetFor(int requestedEpoch, long logEndOffset)
    {
        var entries = _entries;
        if (requestedEpoch == UndefinedEpoch || entries.Length == 0)
        {
            return (UndefinedEpoch, UndefinedOffset);
        }

        if (requestedEpoch == entries[^1].Epoch)
        {
            return (requestedEpoch, logEndOffset);
        }

        var higher = Array.FindIndex(entries, e => e.Epoch > requestedEpoch);
        if (higher < 0)
        {
            return (UndefinedEpoch, UndefinedOffset);
        }

        return higher == 0 ? (requestedEpoch, entries[0].StartOffset) : (entries[higher - 1].Epoch, entries[higher].StartOffset);
    }

    private void Write(EpochEntry[] entries)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{Version}\n{entries.Length}\n");
        foreach (var entry in entries)
        {
            text.Append(CultureInfo.InvariantCulture, $"{entry.Epoch} {entry.StartOffset}\n");
        }

        CheckpointFile.Write(_device, _path, text.ToString());
        _entries = entries;
    }

    /// <summary>One leader epoch and the first offset written in it.</summary>
    public readonly record struct EpochEntry(int Epoch, long StartOffset);
}
