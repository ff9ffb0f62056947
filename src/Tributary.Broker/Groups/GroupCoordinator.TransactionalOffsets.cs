using Microsoft.Extensions.Logging;
using Tributary.Protocol;

namespace Tributary.Broker.Groups;

/// <summary>
/// Offsets committed inside a transaction (TxnOffsetCommit), kept as Kafka's group coordinator keeps them: appended to
/// <c>__consumer_offsets</c> as a transactional batch of the producer, pending until the transaction coordinator ends
/// the transaction (<see cref="CompleteTransaction"/>), which writes the commit or abort marker there and applies or
/// drops them. When the broker starts, the replay resolves them by the markers it finds; those of transactions still
/// open stay pending. A plain commit of the same partition after the transactional one wins, as in Kafka, where the
/// commit with the later record offset is kept: it removes the partition from every producer's pending offsets.
/// Lock order: a group's lock, then <see cref="_pendingLock"/>.
/// </summary>
public sealed partial class GroupCoordinator
{
    private readonly Lock _pendingLock = new();
    private readonly Dictionary<long, Dictionary<(string Group, string Topic, int Partition), CommittedOffset>> _pendingTransactionalOffsets = [];

    /// <summary>
    /// Writes the offsets of a TxnOffsetCommit (already validated) as a transactional batch of the producer and keeps
    /// them pending. The group is created if it does not exist, as Kafka does for generation -1. False when they could
    /// not be written (or the coordinator has no room for the group).
    /// </summary>
    public bool AppendTransactionalOffsets(string groupId, long producerId, short producerEpoch, IReadOnlyList<OffsetCommitEntry> entries)
    {
        while (true)
        {
            if (GetOrCreate(groupId) is not { } group)
            {
                return false;
            }

            // Under the group's lock, as plain commits are, so that their order in the log is the order applied here.
            lock (group.Lock)
            {
                if (group.State == GroupState.Dead)
                {
                    continue;
                }

                var now = NowMs;
                var offsets = entries.Select(e => (Key: (groupId, e.Topic, e.Partition), Offset: new CommittedOffset(e.Offset, e.LeaderEpoch, e.Metadata, now))).ToList();
                lock (_pendingLock)
                {
                    try
                    {
                        _store.AppendTransactional(groupId, [.. offsets.Select(o => (OffsetsTopicFormat.OffsetKey(groupId, o.Key.Item2, o.Key.Item3), (byte[]?)OffsetsTopicFormat.OffsetValue(o.Offset)))], producerId, producerEpoch);
                    }
                    catch (IOException e)
                    {
                        LogPersistFailed(e, groupId);
                        return false;
                    }

                    if (!_pendingTransactionalOffsets.TryGetValue(producerId, out var pending))
                    {
                        pending = [];
                        _pendingTransactionalOffsets[producerId] = pending;
                    }

                    foreach (var (key, offset) in offsets)
                    {
                        pending[key] = offset;
                    }

                    return true;
                }
            }
        }
    }

    /// <summary>Partitions with offsets pending in the producer's open transaction.</summary>
    public int PendingTransactionalOffsetCount(long producerId)
    {
        lock (_pendingLock)
        {
            return _pendingTransactionalOffsets.TryGetValue(producerId, out var pending) ? pending.Count : 0;
        }
    }

    public bool HasPendingTransactionalOffset(string groupId, string topic, int partition)
    {
        lock (_pendingLock)
        {
            return _pendingTransactionalOffsets.Values.Any(p => p.ContainsKey((groupId, topic, partition)));
        }
    }

    /// <summary>
    /// Ends the producer's transaction in a partition of <c>__consumer_offsets</c>: when it wrote offsets of groups of
    /// that partition, appends the commit or abort marker there, then applies those offsets to their groups (commit) or
    /// drops them (abort). The member and generation were checked when the offsets were sent, not now: Kafka applies a
    /// committed transaction's offsets whatever the group's state. KAFKA_STORAGE_ERROR when the marker could not be
    /// written (the offsets stay pending; the caller retries); TRANSACTION_COORDINATOR_FENCED or INVALID_PRODUCER_EPOCH
    /// when the partition refused it (<see cref="InternalTopics.InternalTopic.AppendMarker"/>): the offsets stay pending
    /// for the marker of the coordinator that replaced the sender.
    /// </summary>
    public ErrorCode CompleteTransaction(int partition, long producerId, short producerEpoch, bool commit, int coordinatorEpoch)
    {
        List<string> groupIds;
        lock (_pendingLock)
        {
            if (!_pendingTransactionalOffsets.TryGetValue(producerId, out var pending))
            {
                return ErrorCode.None;
            }

            groupIds = [.. pending.Keys.Select(k => k.Group).Distinct(StringComparer.Ordinal).Where(g => _store.PartitionFor(g) == partition)];
            if (groupIds.Count == 0)
            {
                return ErrorCode.None;
            }

            try
            {
                var refused = _store.AppendMarker(partition, producerId, producerEpoch, commit, coordinatorEpoch);
                if (refused != ErrorCode.None)
                {
                    return refused;
                }
            }
            catch (IOException e)
            {
                LogMarkerFailed(e, producerId);
                return ErrorCode.KafkaStorageError;
            }

            if (!commit)
            {
                DropPending(producerId, pending, groupIds);
                return ErrorCode.None;
            }
        }

        foreach (var groupId in groupIds)
        {
            ApplyCommittedTransaction(groupId, producerId);
        }

        lock (_pendingLock)
        {
            if (_pendingTransactionalOffsets.TryGetValue(producerId, out var left))
            {
                DropPending(producerId, left, groupIds);
            }
        }

        return ErrorCode.None;
    }

    /// <summary>Drops the producer's pending offsets of <paramref name="groupIds"/>. Caller holds <see cref="_pendingLock"/>.</summary>
    private void DropPending(long producerId, Dictionary<(string Group, string Topic, int Partition), CommittedOffset> pending, IEnumerable<string> groupIds)
    {
        var groups = groupIds.ToHashSet(StringComparer.Ordinal);
        foreach (var key in pending.Keys.Where(k => groups.Contains(k.Group)).ToList())
        {
            pending.Remove(key);
        }

        if (pending.Count == 0)
        {
            _pendingTransactionalOffsets.Remove(producerId);
        }
    }

    /// <summary>Forgets the pending offsets of the groups of a partition this coordinator no longer leads.</summary>
    private void UnloadPendingTransactionalOffsets(int partition)
    {
        lock (_pendingLock)
        {
            foreach (var (producerId, pending) in _pendingTransactionalOffsets.ToList())
            {
                DropPending(producerId, pending, pending.Keys.Select(k => k.Group).Where(g => _store.PartitionFor(g) == partition));
            }
        }
    }

    /// <summary>Moves the producer's pending offsets of one group into the group, under the group's lock.</summary>
    private void ApplyCommittedTransaction(string groupId, long producerId)
    {
        while (true)
        {
            // A group the coordinator has no room for loses them until the next start, which replays the log.
            if (GetOrCreate(groupId) is not { } group)
            {
                return;
            }

            lock (group.Lock)
            {
                if (group.State == GroupState.Dead)
                {
                    continue;
                }

                lock (_pendingLock)
                {
                    if (!_pendingTransactionalOffsets.TryGetValue(producerId, out var pending))
                    {
                        return;
                    }

                    foreach (var key in pending.Keys.Where(k => k.Group == groupId).ToList())
                    {
                        group.SetOffset((key.Topic, key.Partition), pending[key]);
                        pending.Remove(key);
                    }
                }

                return;
            }
        }
    }

    /// <summary>Offsets left pending by the replay of <c>__consumer_offsets</c>: transactions still open at the last stop.</summary>
    private void RestorePendingTransactionalOffsets(Dictionary<long, Dictionary<(string Group, string Topic, int Partition), CommittedOffset>> pending)
    {
        lock (_pendingLock)
        {
            foreach (var (producerId, offsets) in pending)
            {
                if (!_pendingTransactionalOffsets.TryGetValue(producerId, out var known))
                {
                    _pendingTransactionalOffsets[producerId] = offsets;
                    continue;
                }

                foreach (var (key, offset) in offsets)
                {
                    known[key] = offset;
                }
            }
        }
    }

    /// <summary>A plain commit of a partition supersedes every transactional offset pending for it. Caller holds the group's lock.</summary>
    private void SupersedePendingOffsets(string groupId, IEnumerable<(string Topic, int Partition)> partitions)
    {
        lock (_pendingLock)
        {
            if (_pendingTransactionalOffsets.Count == 0)
            {
                return;
            }

            foreach (var (topic, partition) in partitions)
            {
                foreach (var pending in _pendingTransactionalOffsets.Values)
                {
                    pending.Remove((groupId, topic, partition));
                }
            }
        }
    }

    [LoggerMessage(EventId = 617, Level = LogLevel.Error, Message = "Could not write the transaction marker of producer {ProducerId} to __consumer_offsets")]
    private partial void LogMarkerFailed(Exception exception, long producerId);
}
