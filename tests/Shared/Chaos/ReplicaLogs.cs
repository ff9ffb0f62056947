using System.Buffers.Binary;
using System.Globalization;

namespace Tributary.Tests.Shared.Chaos;

/// <summary>
/// The stored bytes of a partition replica, read from a stopped broker's data directory (log.dirs/topic-partition,
/// segments *.log in base-offset order): the record batches whose base offset is below an end offset, so replicas
/// can be byte-compared up to the high watermark.
/// </summary>
public static class ReplicaLogs
{
    private const int BatchHeaderBytes = 12; // baseOffset (int64) and batchLength (int32) of Kafka's record batch

    public static byte[] ReadUpTo(string logDirectory, string topic, int partition, long endOffset)
    {
        var directory = Path.Combine(logDirectory, string.Create(CultureInfo.InvariantCulture, $"{topic}-{partition}"));
        using var bytes = new MemoryStream();
        foreach (var segment in Directory.GetFiles(directory, "*.log").Order(StringComparer.Ordinal))
        {
            var data = File.ReadAllBytes(segment);
            var position = 0;
            while (position + BatchHeaderBytes <= data.Length)
            {
                var baseOffset = BinaryPrimitives.ReadInt64BigEndian(data.AsSpan(position));
                var length = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(position + 8));
                if (baseOffset >= endOffset || length <= 0 || position + BatchHeaderBytes + length > data.Length)
                {
                    break;
                }

                bytes.Write(data, position, BatchHeaderBytes + length);
                position += BatchHeaderBytes + length;
            }
        }

        return bytes.ToArray();
    }

    /// <summary>
    /// One line per batch with base offset in [<paramref name="from"/>, <paramref name="to"/>): offsets, partition leader
    /// epoch, producer id, epoch and base sequence; then the leader-epoch checkpoint. For a failed run's output.
    /// </summary>
    public static string Describe(string logDirectory, string topic, int partition, long from, long to)
    {
        var directory = Path.Combine(logDirectory, string.Create(CultureInfo.InvariantCulture, $"{topic}-{partition}"));
        var lines = new List<string>();
        foreach (var segment in Directory.GetFiles(directory, "*.log").Order(StringComparer.Ordinal))
        {
            var data = File.ReadAllBytes(segment);
            for (var position = 0; position + 61 <= data.Length;)
            {
                var span = data.AsSpan(position);
                var baseOffset = BinaryPrimitives.ReadInt64BigEndian(span);
                var length = BinaryPrimitives.ReadInt32BigEndian(span[8..]);
                if (length <= 0)
                {
                    break;
                }

                if (baseOffset >= from && baseOffset < to)
                {
                    lines.Add(string.Create(CultureInfo.InvariantCulture,
                        $"  {baseOffset}-{baseOffset + BinaryPrimitives.ReadInt32BigEndian(span[23..])} epoch {BinaryPrimitives.ReadInt32BigEndian(span[12..])} producer {BinaryPrimitives.ReadInt64BigEndian(span[43..])}/{BinaryPrimitives.ReadInt16BigEndian(span[51..])} seq {BinaryPrimitives.ReadInt32BigEndian(span[53..])}"));
                }

                position += BatchHeaderBytes + length;
            }
        }

        var checkpoint = Path.Combine(directory, "leader-epoch-checkpoint");
        lines.Add("  epochs: " + (File.Exists(checkpoint) ? File.ReadAllText(checkpoint).ReplaceLineEndings(" ") : "none"));
        return string.Join('\n', lines);
    }

    /// <summary>Anomalies where a replica's bytes differ from the first one's (the brokers in the order given).</summary>
    public static IReadOnlyList<string> Compare(IReadOnlyDictionary<int, byte[]> replicas)
    {
        var differences = new List<string>();
        var (firstId, first) = replicas.First();
        foreach (var (id, bytes) in replicas.Skip(1))
        {
            var common = Math.Min(first.Length, bytes.Length);
            var at = first.AsSpan(0, common).CommonPrefixLength(bytes.AsSpan(0, common));
            if (at < common || first.Length != bytes.Length)
            {
                differences.Add($"broker {id} ({bytes.Length} bytes) differs from broker {firstId} ({first.Length} bytes) at byte {at}");
            }
        }

        return differences;
    }
}
