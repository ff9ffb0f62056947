using System.Buffers.Binary;
using Tributary.Protocol.Records;
using Tributary.Storage.Devices;
using Tributary.Storage.Segments;

namespace Tributary.Storage.Producers;

/// <summary>
/// Producer-state snapshot files, <c>&lt;offset&gt;.snapshot</c>: the state after every batch below the offset, in
/// Kafka's format (ProducerStateManager, version 1, big-endian): version int16, CRC32C uint32 over everything after
/// it, then an array (int32 count) of entries: producer id int64, epoch int16, last sequence int32, last offset int64,
/// offset delta int32, timestamp int64, coordinator epoch int32, current transaction's first offset int64. Written
/// to a temporary name and renamed, so a file under the final name is whole unless the disk lost it; the CRC catches
/// that case and the file is then ignored.
/// </summary>
internal static class ProducerSnapshot
{
    public const string Suffix = ".snapshot";

    public const string TempSuffix = ".snapshot.tmp";

    private const short Version = 1;

    private const int HeaderBytes = 2 + 4 + 4;

    private const int EntryBytes = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;

    /// <summary>Kafka's limit follows from its producer limit; ours is the partition's.</summary>
    private const int EntriesMax = ProducerStateManager.ProducersPerPartitionMax;

    public static string PathOf(string directory, long offset) => LogSegment.PathOf(directory, offset, Suffix);

    /// <summary>The offsets of the snapshot files in <paramref name="files"/> (names), oldest first.</summary>
    public static List<long> Offsets(IEnumerable<string> files)
    {
        var offsets = new List<long>();
        foreach (var name in files)
        {
            if (LogSegment.TryParseBaseOffset(name, Suffix, out var offset))
            {
                offsets.Add(offset);
            }
        }

        offsets.Sort();
        return offsets;
    }

    public static byte[] Serialize(IReadOnlyList<ProducerSnapshotEntry> entries)
    {
        var bytes = new byte[HeaderBytes + (entries.Count * EntryBytes)];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteInt16BigEndian(span, Version);
        BinaryPrimitives.WriteInt32BigEndian(span[6..], entries.Count);
        var position = HeaderBytes;
        foreach (var e in entries)
        {
            var entry = span[position..];
            BinaryPrimitives.WriteInt64BigEndian(entry, e.ProducerId);
            BinaryPrimitives.WriteInt16BigEndian(entry[8..], e.Epoch);
            BinaryPrimitives.WriteInt32BigEndian(entry[10..], e.LastSequence);
            BinaryPrimitives.WriteInt64BigEndian(entry[14..], e.LastOffset);
            BinaryPrimitives.WriteInt32BigEndian(entry[22..], e.OffsetDelta);
            BinaryPrimitives.WriteInt64BigEndian(entry[26..], e.TimestampMs);
            BinaryPrimitives.WriteInt32BigEndian(entry[34..], e.CoordinatorEpoch);
            BinaryPrimitives.WriteInt64BigEndian(entry[38..], e.CurrentTxnFirstOffset);
            position += EntryBytes;
        }

        BinaryPrimitives.WriteUInt32BigEndian(span[2..], Crc32C.Compute(span[6..]));
        return bytes;
    }

    /// <summary>The entries, or null with the reason when the bytes are not a whole version-1 snapshot.</summary>
    public static List<ProducerSnapshotEntry>? Parse(ReadOnlySpan<byte> bytes, out string? problem)
    {
        problem = null;
        if (bytes.Length < HeaderBytes)
        {
            problem = $"{bytes.Length} bytes is shorter than the header";
            return null;
        }

        if (BinaryPrimitives.ReadInt16BigEndian(bytes) is var version && version != Version)
        {
            problem = $"version {version} is not {Version}";
            return null;
        }

        if (BinaryPrimitives.ReadUInt32BigEndian(bytes[2..]) != Crc32C.Compute(bytes[6..]))
        {
            problem = "the CRC does not match";
            return null;
        }

        var count = BinaryPrimitives.ReadInt32BigEndian(bytes[6..]);
        if (count < 0 || count > EntriesMax || bytes.Length != HeaderBytes + ((long)count * EntryBytes))
        {
            problem = $"{count} entries do not fit {bytes.Length} bytes";
            return null;
        }

        var entries = new List<ProducerSnapshotEntry>(count);
        for (var position = HeaderBytes; position < bytes.Length; position += EntryBytes)
        {
            var entry = bytes[position..];
            entries.Add(new ProducerSnapshotEntry(
                BinaryPrimitives.ReadInt64BigEndian(entry),
                BinaryPrimitives.ReadInt16BigEndian(entry[8..]),
                BinaryPrimitives.ReadInt32BigEndian(entry[10..]),
                BinaryPrimitives.ReadInt64BigEndian(entry[14..]),
                BinaryPrimitives.ReadInt32BigEndian(entry[22..]),
                BinaryPrimitives.ReadInt64BigEndian(entry[26..]),
                BinaryPrimitives.ReadInt32BigEndian(entry[34..]),
                BinaryPrimitives.ReadInt64BigEndian(entry[38..])));
        }

        return entries;
    }

    /// <summary>Writes the snapshot at <paramref name="offset"/>: temporary file, optional fsync, rename.</summary>
    public static void Write(ILogDevice device, string directory, long offset, IReadOnlyList<ProducerSnapshotEntry> entries, bool sync)
    {
        var path = PathOf(directory, offset);
        var tempPath = LogSegment.PathOf(directory, offset, TempSuffix);
        device.DeleteFile(tempPath);
        using (var file = device.OpenFile(tempPath))
        {
            file.Append(Serialize(entries));
            if (sync)
            {
                file.Flush();
            }
        }

        device.ReplaceFile(tempPath, path);
    }

    /// <summary>The entries of the snapshot at <paramref name="offset"/>, or null with the reason when it is damaged.</summary>
    public static List<ProducerSnapshotEntry>? Read(ILogDevice device, string directory, long offset, out string? problem)
    {
        using var file = device.OpenFile(PathOf(directory, offset));
        if (file.Length > HeaderBytes + ((long)EntriesMax * EntryBytes))
        {
            problem = $"{file.Length} bytes is more than {EntriesMax} entries";
            return null;
        }

        var bytes = new byte[file.Length];
        var read = 0;
        while (read < bytes.Length && file.ReadAt(read, bytes.AsSpan(read)) is > 0 and var n)
        {
            read += n;
        }

        return Parse(bytes.AsSpan(0, read), out problem);
    }
}
