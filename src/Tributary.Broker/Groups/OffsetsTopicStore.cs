using Microsoft.Extensions.Logging;
using Tributary.Broker.InternalTopics;
using Tributary.Broker.ShareGroups;
using Tributary.Protocol;

namespace Tributary.Broker.Groups;

/// <summary>
/// The internal compacted topic <c>__consumer_offsets</c> (<see cref="InternalTopic"/>): each group's records go to
/// the partition of its group id (<see cref="PartitionFor"/>), whose leader coordinates it. The records are encoded by
/// <see cref="OffsetsTopicFormat"/> (Kafka's format); a log written by a release with Tributary's own layout
/// (<see cref="LegacyOffsetsTopicFormat"/>) is read and rewritten once when it is loaded.
/// </summary>
internal sealed partial class OffsetsTopicStore(BrokerCore broker, ILogger logger)
{
    public const string TopicName = "__consumer_offsets";

    private readonly InternalTopic _topic = new(broker, TopicName, () => LogCreated(logger), (e, offset) => LogUndecodable(logger, e, offset));

    /// <summary>
    /// Every decodable record from the start of the log, in offset order (later records win), and the transactional
    /// offsets of transactions with no marker yet, by producer id. A transactional offset enters the entries where its
    /// commit marker is, unless a plain commit of its partition came after it: as in Kafka, the commit
    /// with the later record offset wins. An aborted one is dropped. Share-group records (types 10 to 15) are replayed
    /// into <paramref name="shareGroups"/> in the same pass (ShareGroupRecords), for the share-group coordinator.
    /// </summary>
    public (List<OffsetsTopicFormat.Entry> Entries, Dictionary<long, Dictionary<(string Group, string Topic, int Partition), CommittedOffset>> Pending) Load(
        int partition, Dictionary<string, ShareGroupRecords.Loaded> shareGroups)
    {
        var entries = new List<OffsetsTopicFormat.Entry>();
        var pending = new Dictionary<long, Dictionary<(string Group, string Topic, int Partition), CommittedOffset>>();
        var recordIndex = 0L;
        var lastPlain = new Dictionary<(string Group, string Topic, int Partition), long>();
        var pendingIndex = new Dictionary<(long ProducerId, string Group, string Topic, int Partition), long>();
        var transactional = new InternalTopic.TransactionalReplay(
            (producerId, key, value) =>
            {
                if (OffsetsTopicFormat.Decode(key, value) is not OffsetsTopicFormat.OffsetEntry { Offset: { } offset } o)
                {
                    return false;
                }

                if (!pending.TryGetValue(producerId, out var offsets))
                {
                    offsets = [];
                    pending[producerId] = offsets;
                }

                offsets[(o.Group, o.Topic, o.Partition)] = offset;
                pendingIndex[(producerId, o.Group, o.Topic, o.Partition)] = recordIndex++;
                return true;
            },
            (producerId, commit) =>
            {
                if (!pending.Remove(producerId, out var offsets) || !commit)
                {
                    return;
                }

                foreach (var ((group, topic, partition), offset) in offsets)
                {
                    var index = pendingIndex[(producerId, group, topic, partition)];
                    if (!lastPlain.TryGetValue((group, topic, partition), out var plain) || plain < index)
                    {
                        entries.Add(new OffsetsTopicFormat.OffsetEntry(group, topic, partition, offset));
                        lastPlain[(group, topic, partition)] = recordIndex++;
                    }
                }
            });
        var skipped = _topic.Replay(
            partition,
            (key, value) =>
            {
                if (OffsetsTopicFormat.Decode(key, value) is not { } entry)
                {
                    return ShareGroupRecords.Replay(shareGroups, key, value);
                }

                if (entry is OffsetsTopicFormat.OffsetEntry { Offset: not null } o)
                {
                    lastPlain[(o.Group, o.Topic, o.Partition)] = recordIndex++;
                }

                entries.Add(entry);
                return true;
            },
            (key, value) =>
            {
                var before = entries.Count;
                entries.AddRange(LegacyOffsetsTopicFormat.Decode(key, value));
                return entries.Count > before;
            },
            transactional);
        LogLoaded(logger, entries.Count, partition, skipped);
        if (_topic.HasLegacyRecords)
        {
            var live = OffsetsTopicFormat.LiveRecords(entries, id => broker.Metadata.Find(id)?.Name ?? "");
            try
            {
                _topic.RewriteLegacy(live);
                LogRewritten(logger, live.Count);
            }
            catch (IOException e)
            {
                // The old records stay readable; the rewrite is tried again at the next start.
                LogRewriteFailed(logger, e);
            }
        }

        return (entries, pending);
    }

    /// <summary>Appends the records as one transactional batch of the producer (TxnOffsetCommit). Throws IOException when the log cannot be written.</summary>
    public void AppendTransactional(string groupId, IReadOnlyList<(byte[] Key, byte[]? Value)> records, long producerId, short producerEpoch) =>
        _topic.AppendTransactional(PartitionFor(groupId), records, producerId, producerEpoch);

    /// <summary>Appends the commit or abort marker of the producer's transaction (<see cref="InternalTopic.AppendMarker"/>): its error when the partition refused it. Throws IOException when the log cannot be written.</summary>
    public ErrorCode AppendMarker(int partition, long producerId, short producerEpoch, bool commit, int coordinatorEpoch) =>
        _topic.AppendMarker(partition, producerId, producerEpoch, commit, coordinatorEpoch);

    /// <summary>Appends the group's records as one batch (a null value is a tombstone). Throws IOException when the log cannot be written.</summary>
    public void Append(string groupId, IReadOnlyList<(byte[] Key, byte[]? Value)> records) => _topic.Append(PartitionFor(groupId), records);

    /// <summary>The partition of <c>__consumer_offsets</c> that holds the group.</summary>
    public int PartitionFor(string groupId) => broker.CoordinatorPartitionFor(TopicName, groupId);

    [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "Loaded {Records} group records from __consumer_offsets-{Partition} ({Skipped} skipped)")]
    private static partial void LogLoaded(ILogger logger, int records, int partition, int skipped);

    [LoggerMessage(EventId = 601, Level = LogLevel.Warning, Message = "Skipped an undecodable __consumer_offsets record at offset {Offset}")]
    private static partial void LogUndecodable(ILogger logger, Exception exception, long offset);

    [LoggerMessage(EventId = 602, Level = LogLevel.Information, Message = "Created the internal topic __consumer_offsets")]
    private static partial void LogCreated(ILogger logger);

    [LoggerMessage(EventId = 603, Level = LogLevel.Information, Message = "Rewrote __consumer_offsets in Kafka's record format ({Records} live records)")]
    private static partial void LogRewritten(ILogger logger, int records);

    [LoggerMessage(EventId = 604, Level = LogLevel.Warning, Message = "Could not rewrite __consumer_offsets in Kafka's record format; the old records stay and the rewrite is retried at the next start")]
    private static partial void LogRewriteFailed(ILogger logger, Exception exception);
}
