using Microsoft.Extensions.Logging;
using Tributary.Broker.InternalTopics;

namespace Tributary.Broker.Groups;

/// <summary>
/// The internal compacted topic <c>__consumer_offsets</c> (<see cref="InternalTopic"/>), whose records are encoded by
/// <see cref="OffsetsTopicFormat"/>.
/// </summary>
internal sealed partial class OffsetsTopicStore(BrokerCore broker, ILogger logger)
{
    public const string TopicName = "__consumer_offsets";

    private readonly InternalTopic _topic = new(broker, TopicName, () => LogCreated(logger), (e, offset) => LogUndecodable(logger, e, offset));

    /// <summary>Every decodable record from the start of the log, in offset order (later records win).</summary>
    public List<OffsetsTopicFormat.Entry> Load()
    {
        var entries = new List<OffsetsTopicFormat.Entry>();
        var skipped = _topic.Replay((key, value) =>
        {
            if (OffsetsTopicFormat.Decode(key, value) is not { } entry)
            {
                return false;
            }

            entries.Add(entry);
            return true;
        });
        LogLoaded(logger, entries.Count, skipped);
        return entries;
    }

    /// <summary>Appends the records as one batch (a null value is a tombstone). Throws IOException when the log cannot be written.</summary>
    public void Append(IReadOnlyList<(byte[] Key, byte[]? Value)> records) => _topic.Append(records);

    [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "Loaded {Records} group records from __consumer_offsets ({Skipped} skipped)")]
    private static partial void LogLoaded(ILogger logger, int records, int skipped);

    [LoggerMessage(EventId = 601, Level = LogLevel.Warning, Message = "Skipped an undecodable __consumer_offsets record at offset {Offset}")]
    private static partial void LogUndecodable(ILogger logger, Exception exception, long offset);

    [LoggerMessage(EventId = 602, Level = LogLevel.Information, Message = "Created the internal topic __consumer_offsets")]
    private static partial void LogCreated(ILogger logger);
}
