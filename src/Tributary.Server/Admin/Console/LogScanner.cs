using System.Buffers;
using Tributary.Protocol.Records;
using Tributary.Storage;

namespace Tributary.Server.Admin.Console;

/// <summary>One record as the console sees it: its offset and timestamp resolved from its batch.</summary>
internal readonly record struct ScannedRecord(long Offset, long TimestampMs, bool LogAppendTime, Record Record);

/// <summary>
/// Walks a partition's records in offset order, read from the log in-process (no fetch, no client). Control batches
/// (transaction markers) are skipped, as a consumer skips them. The bytes a record refers to are valid only during the
/// visit: compressed batches are decompressed into one reused scratch buffer.
/// </summary>
internal static class LogScanner
{
    /// <summary>Stored bytes one read takes from the log (a larger batch still comes whole).</summary>
    public const int ReadBytesMax = 1 << 20;

    /// <summary>One batch decompressed, as the broker's own validator bounds it.</summary>
    public const int DecompressedBytesMax = 64 << 20;

    /// <summary>
    /// Visits the records with offsets in [<paramref name="from"/>, <paramref name="to"/>) until
    /// <paramref name="visit"/> answers false. <paramref name="beforeRead"/> runs before each read from the log and
    /// <paramref name="onRead"/> after it with the stored bytes read. Returns the stored bytes read.
    /// </summary>
    public static async Task<long> ScanAsync(
        PartitionLog log,
        long from,
        long to,
        Func<ScannedRecord, bool> visit,
        CancellationToken cancellationToken,
        Func<CancellationToken, ValueTask>? beforeRead = null,
        Action<long>? onRead = null)
    {
        var scratch = new ArrayBufferWriter<byte>();
        var offset = Math.Max(from, log.LogStartOffset);
        long bytes = 0;
        while (offset < to)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (beforeRead is not null)
            {
                await beforeRead(cancellationToken).ConfigureAwait(false);
            }

            LogReadResult read;
            try
            {
                read = log.Read(offset, new LogReadOptions(ReadBytesMax));
            }
            catch (ObjectDisposedException)
            {
                break; // the topic was deleted while we read it
            }

            if (read.Status == LogReadStatus.OffsetOutOfRange)
            {
                if (offset < read.LogStartOffset)
                {
                    offset = read.LogStartOffset; // retention moved the start past us
                    continue;
                }

                break;
            }

            if (read.Records.IsEmpty)
            {
                break;
            }

            bytes += read.Records.Length;
            onRead?.Invoke(read.Records.Length);
            var (next, stopped) = VisitBatches(read.Records, from, to, visit, scratch);
            if (stopped || next <= offset)
            {
                break;
            }

            offset = next;
        }

        return bytes;
    }

    private static (long Next, bool Stopped) VisitBatches(ReadOnlyMemory<byte> data, long from, long to, Func<ScannedRecord, bool> visit, ArrayBufferWriter<byte> scratch)
    {
        long next = 0;
        while (data.Length >= RecordBatchHeader.Size)
        {
            var batch = RecordBatch.Read(data);
            var header = batch.Header;
            data = data[header.TotalSize..];
            next = Math.Max(next, header.NextOffset);
            if (header.IsControl || header.LastOffset < from)
            {
                continue;
            }

            var records = header.Compression == CompressionType.None ? batch.Records : batch.DecompressRecords(scratch, DecompressedBytesMax);
            foreach (var record in records)
            {
                var offset = header.BaseOffset + record.OffsetDelta;
                if (offset < from)
                {
                    continue;
                }

                if (offset >= to)
                {
                    return (next, true);
                }

                var timestamp = header.IsLogAppendTime ? header.MaxTimestamp : header.BaseTimestamp + record.TimestampDelta;
                if (!visit(new ScannedRecord(offset, timestamp, header.IsLogAppendTime, record)))
                {
                    return (next, true);
                }
            }
        }

        return (next, false);
    }
}
