using System.Buffers;
using Microsoft.Extensions.Logging;
using Tributary.Broker.Config;
using Tributary.Protocol;
using Tributary.Protocol.Records;
using Tributary.Storage;

namespace Tributary.Broker.Groups;

/// <summary>
/// Reads and appends the internal compacted topic <c>__consumer_offsets</c> (one partition: a single node
/// coordinates every group). The topic is created on the first write, so a broker that never sees a group has
/// no such topic. Records are encoded by <see cref="OffsetsTopicFormat"/>.
/// </summary>
internal sealed partial class OffsetsTopicStore(BrokerCore broker, ILogger logger)
{
    public const string TopicName = "__consumer_offsets";

    /// <summary>Bytes read from the log per step while loading: bounds the memory the load holds at once.</summary>
    private const int LoadReadBytesMax = 1 << 20;

    /// <summary>Our own batches are uncompressed; a compressed one (written by a tool) may grow to this much.</summary>
    private const int DecompressedBytesMax = 64 << 20;

    private readonly Lock _createLock = new();
    private PartitionLog? _log;

    /// <summary>Every decodable record from the start of the log, in offset order (later records win).</summary>
    public List<OffsetsTopicFormat.Entry> Load()
    {
        var entries = new List<OffsetsTopicFormat.Entry>();
        var topic = broker.Metadata.Find(TopicName);
        var log = topic is null ? null : broker.FindLog(topic, 0);
        if (log is null)
        {
            return entries;
        }

        var scratch = new ArrayBufferWriter<byte>();
        var skipped = 0;
        var offset = log.LogStartOffset;
        while (offset < log.HighWatermark)
        {
            var read = log.Read(offset, LoadReadBytesMax);
            if (read.Status != LogReadStatus.Ok || read.Records.IsEmpty)
            {
                break;
            }

            var remaining = read.Records;
            while (!remaining.IsEmpty)
            {
                var batch = RecordBatch.Read(remaining);
                remaining = remaining[batch.Header.TotalSize..];
                if (batch.Header.LastOffset < offset)
                {
                    continue;
                }

                if (!batch.Header.IsControl)
                {
                    var records = batch.Header.Compression == CompressionType.None ? batch.Records : batch.DecompressRecords(scratch, DecompressedBytesMax);
                    foreach (var record in records)
                    {
                        if (batch.Header.BaseOffset + record.OffsetDelta < offset || record.Key is not { } key)
                        {
                            continue;
                        }

                        try
                        {
                            if (OffsetsTopicFormat.Decode(key, record.Value) is { } entry)
                            {
                                entries.Add(entry);
                            }
                            else
                            {
                                skipped++;
                            }
                        }
                        catch (ProtocolException e)
                        {
                            LogUndecodable(e, batch.Header.BaseOffset + record.OffsetDelta);
                            skipped++;
                        }
                    }
                }

                offset = batch.Header.NextOffset;
            }
        }

        LogLoaded(entries.Count, skipped);
        return entries;
    }

    /// <summary>Appends the records as one batch (a null value is a tombstone). Throws IOException when the log cannot be written.</summary>
    public void Append(IReadOnlyList<(byte[] Key, byte[]? Value)> records)
    {
        if (records.Count == 0)
        {
            return;
        }

        var builder = new RecordBatchBuilder();
        var now = broker.NowMs;
        foreach (var (key, value) in records)
        {
            builder.Add(now, key, value);
        }

        Log().Append(builder.Build());
    }

    private PartitionLog Log()
    {
        if (_log is { } log)
        {
            return log;
        }

        lock (_createLock)
        {
            if (_log is null)
            {
                var (opened, created) = broker.OpenInternalLog(TopicName);
                if (created)
                {
                    LogCreated();
                }

                _log = opened;
            }

            return _log;
        }
    }

    [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "Loaded {Records} group records from __consumer_offsets ({Skipped} skipped)")]
    private partial void LogLoaded(int records, int skipped);

    [LoggerMessage(EventId = 601, Level = LogLevel.Warning, Message = "Skipped an undecodable __consumer_offsets record at offset {Offset}")]
    private partial void LogUndecodable(Exception exception, long offset);

    [LoggerMessage(EventId = 602, Level = LogLevel.Information, Message = "Created the internal topic __consumer_offsets")]
    private partial void LogCreated();
}
