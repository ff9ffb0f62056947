using Microsoft.Extensions.Logging;
using Tributary.Broker.Config;
using Tributary.Protocol;
using Tributary.Protocol.Records;
using Tributary.Storage;

namespace Tributary.Broker.Transactions;

/// <summary>
/// Reads and appends the internal topic <c>__transaction_state</c> (one partition: a single node coordinates every
/// transactional id), created on the first write. Records are encoded by <see cref="TransactionStateFormat"/>.
/// </summary>
internal sealed partial class TransactionStateStore(BrokerCore broker, ILogger logger)
{
    public const string TopicName = "__transaction_state";

    /// <summary>Bytes read from the log per step while loading: bounds the memory the load holds at once.</summary>
    private const int LoadReadBytesMax = 1 << 20;

    private readonly Lock _createLock = new();
    private PartitionLog? _log;

    /// <summary>The latest state of every transactional id in the log (tombstoned ids left out).</summary>
    public Dictionary<string, TransactionMetadata> Load()
    {
        var latest = new Dictionary<string, TransactionMetadata?>(StringComparer.Ordinal);
        var topic = broker.Metadata.Find(TopicName);
        var log = topic is null ? null : broker.FindLog(topic, 0);
        var skipped = 0;
        for (var offset = log?.LogStartOffset ?? 0; log is not null && offset < log.HighWatermark;)
        {
            var read = log.Read(offset, LoadReadBytesMax);
            if (read.Status != LogReadStatus.Ok || read.Records.IsEmpty)
            {
                break;
            }

            for (var remaining = read.Records; !remaining.IsEmpty;)
            {
                var batch = RecordBatch.Read(remaining);
                remaining = remaining[batch.Header.TotalSize..];
                if (batch.Header.LastOffset < offset)
                {
                    continue;
                }

                // Our own batches are uncompressed and never control batches; anything else was not written by us.
                if (!batch.Header.IsControl && batch.Header.Compression == CompressionType.None)
                {
                    foreach (var record in batch.Records)
                    {
                        try
                        {
                            if (record.Key is { } key && TransactionStateFormat.Decode(key, record.Value) is { } entry)
                            {
                                latest[entry.TransactionalId] = entry.State;
                                continue;
                            }
                        }
                        catch (ProtocolException e)
                        {
                            LogUndecodable(e, batch.Header.BaseOffset + record.OffsetDelta);
                        }

                        skipped++;
                    }
                }

                offset = batch.Header.NextOffset;
            }
        }

        var states = latest.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value!, StringComparer.Ordinal);
        LogLoaded(states.Count, skipped);
        return states;
    }

    /// <summary>Appends the transaction's current state. Throws IOException when the log cannot be written.</summary>
    public void Write(TransactionMetadata transaction)
    {
        var batch = new RecordBatchBuilder()
            .Add(broker.NowMs, TransactionStateFormat.Key(transaction.TransactionalId), TransactionStateFormat.Value(transaction))
            .Build();
        Log().Append(batch);
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

    [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "Loaded {TransactionalIds} transactional ids from __transaction_state ({Skipped} records skipped)")]
    private partial void LogLoaded(int transactionalIds, int skipped);

    [LoggerMessage(EventId = 701, Level = LogLevel.Warning, Message = "Skipped an undecodable __transaction_state record at offset {Offset}")]
    private partial void LogUndecodable(Exception exception, long offset);

    [LoggerMessage(EventId = 702, Level = LogLevel.Information, Message = "Created the internal topic __transaction_state")]
    private partial void LogCreated();
}
