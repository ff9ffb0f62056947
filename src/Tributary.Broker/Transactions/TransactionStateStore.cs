using Microsoft.Extensions.Logging;
using Tributary.Broker.InternalTopics;

namespace Tributary.Broker.Transactions;

/// <summary>
/// The internal topic <c>__transaction_state</c> (<see cref="InternalTopic"/>), whose records are encoded by
/// <see cref="TransactionStateFormat"/>: one record per transactional id and state change.
/// </summary>
internal sealed partial class TransactionStateStore(BrokerCore broker, ILogger logger)
{
    public const string TopicName = "__transaction_state";

    private readonly InternalTopic _topic = new(broker, TopicName, () => LogCreated(logger), (e, offset) => LogUndecodable(logger, e, offset));

    /// <summary>The latest state of every transactional id in the log (tombstoned ids left out).</summary>
    public Dictionary<string, TransactionMetadata> Load()
    {
        var latest = new Dictionary<string, TransactionMetadata?>(StringComparer.Ordinal);
        var skipped = _topic.Replay((key, value) =>
        {
            if (TransactionStateFormat.Decode(key, value) is not { } entry)
            {
                return false;
            }

            latest[entry.TransactionalId] = entry.State;
            return true;
        });
        var states = latest.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value!, StringComparer.Ordinal);
        LogLoaded(logger, states.Count, skipped);
        return states;
    }

    /// <summary>Appends the transaction's current state. Throws IOException when the log cannot be written.</summary>
    public void Write(TransactionMetadata transaction) =>
        _topic.Append([(TransactionStateFormat.Key(transaction.TransactionalId), TransactionStateFormat.Value(transaction))]);

    [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "Loaded {TransactionalIds} transactional ids from __transaction_state ({Skipped} records skipped)")]
    private static partial void LogLoaded(ILogger logger, int transactionalIds, int skipped);

    [LoggerMessage(EventId = 701, Level = LogLevel.Warning, Message = "Skipped an undecodable __transaction_state record at offset {Offset}")]
    private static partial void LogUndecodable(ILogger logger, Exception exception, long offset);

    [LoggerMessage(EventId = 702, Level = LogLevel.Information, Message = "Created the internal topic __transaction_state")]
    private static partial void LogCreated(ILogger logger);
}
