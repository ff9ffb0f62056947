using Microsoft.Extensions.Logging;
using Tributary.Broker.InternalTopics;

namespace Tributary.Broker.Transactions;

/// <summary>
/// The internal topic <c>__transaction_state</c> (<see cref="InternalTopic"/>), whose records are encoded by
/// <see cref="TransactionStateFormat"/> (Kafka's format): one record per transactional id and state change, in the
/// partition of the id (<see cref="PartitionFor"/>), whose leader coordinates it. A log
/// written by a release with Tributary's own layout (<see cref="LegacyTransactionStateFormat"/>) is read and rewritten
/// once when it is loaded.
/// </summary>
internal sealed partial class TransactionStateStore(BrokerCore broker, ILogger logger)
{
    public const string TopicName = "__transaction_state";

    private readonly InternalTopic _topic = new(broker, TopicName, () => LogCreated(logger), (e, offset) => LogUndecodable(logger, e, offset));

    /// <summary>The latest state of every transactional id in the partition (tombstoned ids left out).</summary>
    public Dictionary<string, TransactionMetadata> Load(int partition)
    {
        var latest = new Dictionary<string, TransactionMetadata?>(StringComparer.Ordinal);
        var skipped = _topic.Replay(
            partition,
            (key, value) => Keep(TransactionStateFormat.Decode(key, value)),
            (key, value) => Keep(LegacyTransactionStateFormat.Decode(key, value)));
        var states = latest.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value!, StringComparer.Ordinal);
        LogLoaded(logger, states.Count, partition, skipped);
        if (_topic.HasLegacyRecords)
        {
            try
            {
                _topic.RewriteLegacy([.. states.Values.Select(t => (TransactionStateFormat.Key(t.TransactionalId), TransactionStateFormat.Value(t)))]);
                LogRewritten(logger, states.Count);
            }
            catch (IOException e)
            {
                // The old records stay readable; the rewrite is tried again at the next start.
                LogRewriteFailed(logger, e);
            }
        }

        return states;

        bool Keep((string TransactionalId, TransactionMetadata? State)? entry)
        {
            if (entry is not { } e)
            {
                return false;
            }

            latest[e.TransactionalId] = e.State;
            return true;
        }
    }

    /// <summary>Appends the transaction's current state. Throws IOException when the log cannot be written.</summary>
    public void Write(TransactionMetadata transaction) =>
        _topic.Append(PartitionFor(transaction.TransactionalId), [(TransactionStateFormat.Key(transaction.TransactionalId), TransactionStateFormat.Value(transaction))]);

    [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "Loaded {TransactionalIds} transactional ids from __transaction_state-{Partition} ({Skipped} records skipped)")]
    private static partial void LogLoaded(ILogger logger, int transactionalIds, int partition, int skipped);

    /// <summary>The partition of <c>__transaction_state</c> that holds the transactional id.</summary>
    public int PartitionFor(string transactionalId) => broker.CoordinatorPartitionFor(TopicName, transactionalId);

    [LoggerMessage(EventId = 701, Level = LogLevel.Warning, Message = "Skipped an undecodable __transaction_state record at offset {Offset}")]
    private static partial void LogUndecodable(ILogger logger, Exception exception, long offset);

    [LoggerMessage(EventId = 703, Level = LogLevel.Information, Message = "Rewrote __transaction_state in Kafka's record format ({TransactionalIds} transactional ids)")]
    private static partial void LogRewritten(ILogger logger, int transactionalIds);

    [LoggerMessage(EventId = 704, Level = LogLevel.Warning, Message = "Could not rewrite __transaction_state in Kafka's record format; the old records stay and the rewrite is retried at the next start")]
    private static partial void LogRewriteFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 702, Level = LogLevel.Information, Message = "Created the internal topic __transaction_state")]
    private static partial void LogCreated(ILogger logger);
}
