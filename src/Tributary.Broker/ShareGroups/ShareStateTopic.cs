using Microsoft.Extensions.Logging;
using Tributary.Broker.InternalTopics;
using Tributary.Protocol;
using Tributary.Protocol.CoordinatorRecords;

namespace Tributary.Broker.ShareGroups;

/// <summary>
/// <c>__share_group_state</c>: the share partitions' state as Kafka's share coordinator stores it, compacted. The key
/// is ShareSnapshotKey (record type 0) or ShareUpdateKey (1), both (group id, topic id, partition); the value a
/// ShareSnapshotValue v0 (the whole state) or a ShareUpdateValue v0 (a delta on the latest snapshot). Tributary writes
/// only snapshots, so the latest record of a key holds everything and compaction keeps it; it reads both, so a log
/// written with updates loads as well. A null value is a tombstone (the group or its offsets were deleted). A key's
/// records go to the partition <see cref="PartitionFor"/> names, as Kafka's share coordinator places them.
/// </summary>
internal sealed partial class ShareStateTopic(BrokerCore broker, ILogger logger)
{
    public const string TopicName = "__share_group_state";

    private readonly InternalTopic _topic = new(broker, TopicName, () => LogCreated(logger), (e, offset) => LogUndecodable(logger, e, offset));

    /// <summary>
    /// The partition that holds the key's state: Kafka's <c>Utils.abs(key.asCoordinatorKey().hashCode) % partitions</c>
    /// over "groupId:topicId:partition" (<see cref="SharePartitionKey.CoordinatorKey"/>).
    /// </summary>
    public int PartitionFor(SharePartitionKey key) => broker.CoordinatorPartitionFor(TopicName, key.CoordinatorKey);

    /// <summary>The latest state of every share partition the log's <paramref name="partition"/> holds.</summary>
    public Dictionary<SharePartitionKey, ShareSnapshotValue> Load(int partition)
    {
        var states = new Dictionary<SharePartitionKey, ShareSnapshotValue>();
        var skipped = _topic.Replay(
            partition,
            (key, value) =>
            {
                switch (CoordinatorRecordSerde.ReadRecordType(key.Span))
                {
                    case 0:
                        var snapshotKey = CoordinatorRecordSerde.DeserializeKey<ShareSnapshotKey>(key);
                        var partition = new SharePartitionKey(snapshotKey.GroupId, snapshotKey.TopicId, snapshotKey.Partition);
                        if (value is { } snapshot)
                        {
                            states[partition] = CoordinatorRecordSerde.DeserializeValue<ShareSnapshotValue>(snapshot, out _);
                        }
                        else
                        {
                            states.Remove(partition);
                        }

                        return true;
                    case 1:
                        var updateKey = CoordinatorRecordSerde.DeserializeKey<ShareUpdateKey>(key);
                        var updated = new SharePartitionKey(updateKey.GroupId, updateKey.TopicId, updateKey.Partition);
                        if (value is { } update && states.TryGetValue(updated, out var state))
                        {
                            Apply(state, CoordinatorRecordSerde.DeserializeValue<ShareUpdateValue>(update, out _));
                        }

                        return true;
                    default:
                        return false;
                }
            },
            (_, _) => false);
        LogLoaded(logger, states.Count, partition, skipped);
        return states;
    }

    /// <summary>
    /// Writes the snapshots (null: a tombstone), one batch per partition they fall in. Throws IOException when a log
    /// cannot be written; the partitions written before it keep their batch.
    /// </summary>
    public void Write(IReadOnlyList<(SharePartitionKey Key, ShareSnapshotValue? Value)> states)
    {
        foreach (var partition in states.GroupBy(s => PartitionFor(s.Key)))
        {
            _topic.Append(partition.Key, [.. partition.Select(s => (
                CoordinatorRecordSerde.SerializeKey(new ShareSnapshotKey { GroupId = s.Key.GroupId, TopicId = s.Key.TopicId, Partition = s.Key.Partition }),
                s.Value is null ? null : CoordinatorRecordSerde.SerializeValue(s.Value, 0)))]);
        }
    }

    // A ShareUpdate replaces the state of the offsets its batches cover and may move the start offset forward.
    private static void Apply(ShareSnapshotValue state, ShareUpdateValue update) =>
        Merge(state, update.StartOffset, update.StateBatches.Select(b => new ShareSnapshotValue.StateBatch { FirstOffset = b.FirstOffset, LastOffset = b.LastOffset, DeliveryState = b.DeliveryState, DeliveryCount = b.DeliveryCount }));

    /// <summary>
    /// Applies a delta (a ShareUpdate, a WriteShareGroupState) to <paramref name="state"/>: the start offset only moves
    /// forward (a negative one is no change), batches below it go, and each new batch replaces the offsets it covers.
    /// </summary>
    internal static void Merge(ShareSnapshotValue state, long startOffset, IEnumerable<ShareSnapshotValue.StateBatch> updates)
    {
        if (startOffset >= 0)
        {
            state.StartOffset = Math.Max(state.StartOffset, startOffset);
        }

        var batches = state.StateBatches.Where(b => b.LastOffset >= state.StartOffset).ToList();
        foreach (var u in updates)
        {
            var kept = new List<ShareSnapshotValue.StateBatch>();
            foreach (var b in batches)
            {
                if (b.LastOffset < u.FirstOffset || b.FirstOffset > u.LastOffset)
                {
                    kept.Add(b);
                    continue;
                }

                if (b.FirstOffset < u.FirstOffset)
                {
                    kept.Add(new ShareSnapshotValue.StateBatch { FirstOffset = b.FirstOffset, LastOffset = u.FirstOffset - 1, DeliveryState = b.DeliveryState, DeliveryCount = b.DeliveryCount });
                }

                if (b.LastOffset > u.LastOffset)
                {
                    kept.Add(new ShareSnapshotValue.StateBatch { FirstOffset = u.LastOffset + 1, LastOffset = b.LastOffset, DeliveryState = b.DeliveryState, DeliveryCount = b.DeliveryCount });
                }
            }

            kept.Add(new ShareSnapshotValue.StateBatch { FirstOffset = u.FirstOffset, LastOffset = u.LastOffset, DeliveryState = u.DeliveryState, DeliveryCount = u.DeliveryCount });
            batches = [.. kept.OrderBy(b => b.FirstOffset)];
        }

        state.StateBatches = [.. batches.Where(b => b.LastOffset >= state.StartOffset)];
    }

    [LoggerMessage(EventId = 640, Level = LogLevel.Information, Message = "Loaded the state of {Partitions} share partitions from __share_group_state-{Partition} ({Skipped} records skipped)")]
    private static partial void LogLoaded(ILogger logger, int partitions, int partition, int skipped);

    [LoggerMessage(EventId = 641, Level = LogLevel.Warning, Message = "Skipped an undecodable __share_group_state record at offset {Offset}")]
    private static partial void LogUndecodable(ILogger logger, Exception exception, long offset);

    [LoggerMessage(EventId = 642, Level = LogLevel.Information, Message = "Created the internal topic __share_group_state")]
    private static partial void LogCreated(ILogger logger);
}
