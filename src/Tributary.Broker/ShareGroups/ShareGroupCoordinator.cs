using Microsoft.Extensions.Logging;
using Tributary.Broker.Groups;
using Tributary.Broker.InternalTopics;
using Tributary.Broker.Metadata;
using Tributary.Protocol;
using Tributary.Protocol.CoordinatorRecords;
using Tributary.Storage;

namespace Tributary.Broker.ShareGroups;

/// <summary>
/// Share groups (KIP-932) on this node: membership and the <c>simple</c> assignment (ShareGroupHeartbeat), share
/// sessions (ShareFetch / ShareAcknowledge), and each group's share partitions, whose state is written to the share
/// coordinator (<c>__share_group_state</c>) before the request that changed it is answered. A single node's share
/// coordinator is local and every state is reloaded at start. In cluster mode a share partition lives on the data
/// partition's leader: loaded from the share coordinator (<see cref="ShareStatePersister"/>) at its first use in each
/// leader epoch, dropped when this broker stops leading it (NOT_LEADER_OR_FOLLOWER), so that a new leader goes on
/// from what was acknowledged and delivers again what was held. Membership (group
/// and assignment epochs, members, subscriptions, assignments) is written to <c>__consumer_offsets</c> as Kafka's
/// group coordinator writes it (<see cref="ShareGroupRecords"/>) and replayed at start; as in Kafka, a loaded member
/// keeps its epoch and expires after group.share.session.timeout.ms unless it heartbeats (its share session and the
/// records it held were released by the restart). In cluster mode membership follows the group coordinator: it is
/// loaded in the group coordinator's pass over <c>__consumer_offsets</c> when this broker becomes its leader, dropped
/// when it resigns, and the share-group APIs answer NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS elsewhere
/// (HandlerCatalog); share sessions and share partitions stay on the data partitions' leaders.
/// Locks: <see cref="_lock"/> guards groups, sessions and the partition table; each <see cref="SharePartition"/> has
/// its own, never taken while holding <see cref="_lock"/> the other way round.
/// </summary>
public sealed partial class ShareGroupCoordinator : IDisposable
{
    private readonly BrokerCore _broker;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ShareGroup> _groups = new(StringComparer.Ordinal);
    private readonly Dictionary<SharePartitionKey, SharePartition> _partitions = [];
    private readonly Dictionary<(string GroupId, string MemberId), ShareSession> _sessions = [];
    private readonly ShareStatePersister? _persister;
    private readonly ITimer _expiryTimer;

    public ShareGroupCoordinator(BrokerCore broker)
    {
        _broker = broker;
        _logger = broker.LoggerFactory.CreateLogger<ShareGroupCoordinator>();
        if (broker.Config.ClusterMode)
        {
            _persister = new ShareStatePersister(broker);
        }
        else
        {
            foreach (var (key, snapshot) in broker.ShareCoordinator.All())
            {
                _partitions[key] = Restored(key, snapshot, leaderEpoch: 0);
            }
        }

        _expiryTimer = broker.Time.CreateTimer(_ => ExpireMembers(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        broker.Groups.FollowShareGroups(LoadMembership, UnloadMembership);
    }

    /// <summary>Cluster mode: the share coordinator's client (the offset APIs read through it); null on a single node.</summary>
    internal ShareStatePersister? Persister => _persister;

    internal long NowMs => _broker.Time.GetUtcNow().ToUnixTimeMilliseconds();

    internal ShareGroupSettings SettingsFor(string groupId) => ShareGroupSettings.From(_broker.Config, _broker.Metadata.GroupConfigs(groupId));

    /// <summary>
    /// Whether a share group of this id exists: with membership records, or (single node) with share-partition state.
    /// In cluster mode a share partition lives on its data partition's leader, so only the group coordinator's
    /// membership counts.
    /// </summary>
    public bool IsShareGroup(string groupId)
    {
        lock (_lock)
        {
            return _groups.ContainsKey(groupId) || (_persister is null && _partitions.Keys.Any(k => k.GroupId == groupId));
        }
    }

    /// <summary>
    /// ShareGroupHeartbeat (see ShareGroupHeartbeatHandler for the rules): joins, leaves, keeps the session, and hands
    /// the member its target assignment once it changed. The group epoch bumps when membership or a subscription
    /// changes, and when a subscribed topic appears or gains partitions (compared on every heartbeat).
    /// </summary>
    public ShareGroupHeartbeatResult Heartbeat(ShareGroupHeartbeatParameters p)
    {
        var settings = SettingsFor(p.GroupId);
        ShareGroupHeartbeatResult Error(ErrorCode error, string message) => new(error, message, p.MemberId, p.MemberEpoch, 0);
        if (p.GroupId.Length == 0)
        {
            return Error(ErrorCode.InvalidGroupId, "GroupId can't be empty.");
        }

        if (p.MemberId.Length == 0)
        {
            return Error(ErrorCode.InvalidRequest, "MemberId can't be empty.");
        }

        if (p.MemberEpoch < -1)
        {
            return Error(ErrorCode.InvalidRequest, $"MemberEpoch is {p.MemberEpoch}: expected -1, 0 or the member's epoch.");
        }

        if (p.MemberEpoch == 0 && (p.SubscribedTopicNames is null || p.SubscribedTopicNames.Count == 0))
        {
            return Error(ErrorCode.InvalidRequest, "SubscribedTopicNames must be set and non-empty when joining.");
        }

        ShareGroupHeartbeatResult result;
        lock (_lock)
        {
            var now = NowMs;
            _groups.TryGetValue(p.GroupId, out var group);
            var member = group?.Members.GetValueOrDefault(p.MemberId);
            if (p.MemberEpoch == -1)
            {
                if (group is null || member is null)
                {
                    return Error(ErrorCode.UnknownMemberId, $"Member {p.MemberId} is not a member of group {p.GroupId}.");
                }

                // Its share session stays: clients (librdkafka) send their last acknowledgements with epoch -1 after
                // leaving, and that closes the session and releases what is left.
                RemoveMember(group, member);
                result = new(ErrorCode.None, null, p.MemberId, -1, 0);
            }
            else
            {
                if (p.MemberEpoch == 0 && group is null)
                {
                    if (_broker.Groups.DescribeConsumerGroup(p.GroupId) is not null || _broker.Groups.ListGroups().Any(g => g.GroupId == p.GroupId))
                    {
                        return Error(ErrorCode.GroupIdNotFound, $"Group {p.GroupId} is not a share group.");
                    }

                    group = new ShareGroup(p.GroupId);
                    _groups[p.GroupId] = group;
                    LogGroupCreated(_logger, p.GroupId);
                }

                if (group is null || (member is null && p.MemberEpoch != 0))
                {
                    // Kafka answers GROUP_ID_NOT_FOUND for an unknown group; UNKNOWN_MEMBER_ID makes the member rejoin.
                    return Error(ErrorCode.UnknownMemberId, $"Member {p.MemberId} is not a member of group {p.GroupId}.");
                }

                var changed = false;
                var persist = false;
                if (member is null)
                {
                    if (group.Members.Count >= ShareGroupSettings.BrokerInt(_broker.Config, "group.share.max.size"))
                    {
                        return Error(ErrorCode.GroupMaxSizeReached, $"The share group has reached its maximum size.");
                    }

                    member = new ShareGroupMember(p.MemberId);
                    group.Members[p.MemberId] = member;
                    changed = true;
                }
                else if (p.MemberEpoch != 0 && p.MemberEpoch != member.Epoch)
                {
                    return Error(ErrorCode.FencedMemberEpoch, $"The share group member has epoch {member.Epoch}, not {p.MemberEpoch}.");
                }

                if (p.SubscribedTopicNames is { } topics && !topics.Order(StringComparer.Ordinal).SequenceEqual(member.SubscribedTopicNames.Order(StringComparer.Ordinal), StringComparer.Ordinal))
                {
                    member.SubscribedTopicNames = [.. topics.Distinct(StringComparer.Ordinal)];
                    changed = true;
                }

                member.RackId = p.RackId ?? member.RackId;
                member.ClientId = p.ClientId;
                member.ClientHost = p.ClientHost;
                member.SessionDeadlineMs = now + settings.SessionTimeoutMs;
                ScheduleExpiry();

                var partitions = SubscribedPartitions(group);
                if (changed || !SameTopics(partitions, group.SubscribedPartitions))
                {
                    group.Reassign(partitions);
                    persist = true;
                }

                // As Kafka: the member moves to the assignment epoch (nothing to revoke in a share group), and the
                // response carries the assignment whenever the member's epoch changes.
                var sendAssignment = p.MemberEpoch == 0;
                if (!SameAssignment(member.Assignment, member.Target) || member.Epoch != group.AssignmentEpoch)
                {
                    member.Assignment = member.Target;
                    member.PreviousEpoch = member.Epoch;
                    member.Epoch = group.AssignmentEpoch;
                    sendAssignment = true;
                    persist = true;
                }

                if (persist)
                {
                    WriteMembership(group.GroupId, ShareGroupRecords.Write(group, []));
                }

                result = new(ErrorCode.None, null, p.MemberId, member.Epoch, settings.HeartbeatIntervalMs,
                    sendAssignment ? [.. member.Assignment.Select(kv => (kv.Key, kv.Value))] : null);
            }
        }

        return result;
    }

    /// <summary>ShareGroupDescribe of one group; null when there is no share group of that id.</summary>
    public ShareGroupDescription? Describe(string groupId)
    {
        lock (_lock)
        {
            if (!_groups.TryGetValue(groupId, out var group))
            {
                return _persister is null && _partitions.Keys.Any(k => k.GroupId == groupId) ? new ShareGroupDescription(groupId, "Empty", 0, 0, []) : null;
            }

            return new ShareGroupDescription(groupId, group.State, group.GroupEpoch, group.AssignmentEpoch, [.. group.Members.Values.Select(m => new ShareGroupMemberDescription(
                m.MemberId, m.RackId, m.Epoch, m.ClientId, m.ClientHost, m.SubscribedTopicNames,
                [.. m.Assignment.Select(kv => (kv.Key, _broker.Metadata.Find(kv.Key)?.Name ?? "", kv.Value))]))]);
        }
    }

    /// <summary>Every share group with its state, for ListGroups (type "share"); in cluster mode only on the group coordinator.</summary>
    public IReadOnlyList<(string GroupId, string State)> List()
    {
        if (_persister is not null && !_broker.Groups.CoordinatesAny)
        {
            return [];
        }

        lock (_lock)
        {
            return [.. _groups.Keys.Concat(_persister is null ? _partitions.Keys.Select(k => k.GroupId) : []).Distinct(StringComparer.Ordinal)
                .Select(id => (id, _groups.TryGetValue(id, out var g) ? g.State : "Empty"))];
        }
    }

    /// <summary>
    /// DeleteGroups for a share group: NON_EMPTY_GROUP while it has members, GROUP_ID_NOT_FOUND when there is none;
    /// otherwise its share-partition state is tombstoned in __share_group_state. In cluster mode (on the group
    /// coordinator) the state of every partition the group was assigned is deleted at the share coordinator first;
    /// the group's records go only once that is done, so a failed deletion can be tried again.
    /// </summary>
    public ErrorCode Delete(string groupId)
    {
        if (_persister is not null)
        {
            return DeleteInCluster(groupId, _persister);
        }

        List<SharePartitionKey> removed;
        lock (_lock)
        {
            if (_groups.TryGetValue(groupId, out var group) && group.Members.Count > 0)
            {
                return ErrorCode.NonEmptyGroup;
            }

            removed = [.. _partitions.Keys.Where(k => k.GroupId == groupId)];
            if (group is null && removed.Count == 0)
            {
                return ErrorCode.GroupIdNotFound;
            }

            if (group is not null)
            {
                WriteMembership(groupId, ShareGroupRecords.Delete(groupId, []));
            }

            _groups.Remove(groupId);
            foreach (var key in removed)
            {
                _partitions.Remove(key);
            }
        }

        return Tombstone(groupId, removed) ? ErrorCode.None : ErrorCode.CoordinatorNotAvailable;
    }

    public void Dispose() => _expiryTimer.Dispose();

    private ErrorCode DeleteInCluster(string groupId, ShareStatePersister persister)
    {
        List<SharePartitionKey> keys;
        lock (_lock)
        {
            if (!_groups.TryGetValue(groupId, out var group))
            {
                return ErrorCode.GroupIdNotFound;
            }

            if (group.Members.Count > 0)
            {
                return ErrorCode.NonEmptyGroup;
            }

            keys = [.. group.InitializedTopics.SelectMany(t => t.Value.Partitions.Select(p => new SharePartitionKey(groupId, t.Key, p)))];
        }

        if (keys.Count > 0 && persister.WriteAsync([.. keys.Select(k => (k, (ShareSnapshotValue?)null))]).GetAwaiter().GetResult() is var error and not ErrorCode.None)
        {
            LogClusterDeleteFailed(_logger, groupId, error);
            return error;
        }

        lock (_lock)
        {
            if (!_groups.TryGetValue(groupId, out var group))
            {
                return ErrorCode.GroupIdNotFound;
            }

            if (group.Members.Count > 0)
            {
                // Joined while the state was deleted: the group stays, and its share partitions start afresh.
                return ErrorCode.NonEmptyGroup;
            }

            WriteMembership(groupId, ShareGroupRecords.Delete(groupId, []));
            _groups.Remove(groupId);
            foreach (var key in _partitions.Keys.Where(k => k.GroupId == groupId).ToList())
            {
                _partitions.Remove(key);
            }
        }

        return ErrorCode.None;
    }

    /// <summary>
    /// AlterShareGroupOffsets in cluster mode (on the group coordinator, the group empty): the share coordinator starts
    /// each partition again at its offset under a new state epoch, which fences the data partition's leader's old state.
    /// The partitions join the group's initialized topics (a group that did not exist is created empty, as in Kafka).
    /// </summary>
    internal IReadOnlyDictionary<(Guid TopicId, int Partition), ErrorCode> Reset(string groupId, IReadOnlyList<(TopicInfo Topic, int Partition, long StartOffset)> partitions)
    {
        var results = _persister!.ResetAsync(groupId, [.. partitions.Select(p => (p.Topic.Id, p.Partition, p.StartOffset))]).GetAwaiter().GetResult();
        lock (_lock)
        {
            if (!_groups.TryGetValue(groupId, out var group))
            {
                group = new ShareGroup(groupId);
                _groups[groupId] = group;
            }

            foreach (var (topic, partition, _) in partitions.Where(p => results[(p.Topic.Id, p.Partition)] == ErrorCode.None))
            {
                if (!group.InitializedTopics.TryGetValue(topic.Id, out var known))
                {
                    known = (topic.Name, []);
                    group.InitializedTopics[topic.Id] = known;
                }

                known.Partitions.Add(partition);
                _partitions.Remove(new SharePartitionKey(groupId, topic.Id, partition));
            }

            WriteMembership(group.GroupId, ShareGroupRecords.Write(group, []));
        }

        return results;
    }

    /// <summary>The share partition of a group, with its start offset set (share.auto.offset.reset) on first use.</summary>
    internal SharePartition Partition(string groupId, TopicInfo topic, int partition, PartitionLog log, ShareGroupSettings settings)
    {
        var key = new SharePartitionKey(groupId, topic.Id, partition);
        SharePartition? share;
        lock (_lock)
        {
            if (!_partitions.TryGetValue(key, out share))
            {
                share = new SharePartition(key);
                _partitions[key] = share;
            }
        }

        share.InitializeIfNeeded(log, settings.AutoOffsetReset, NowMs);
        return share;
    }

    /// <summary>
    /// The share partition of a group for a ShareFetch or ShareAcknowledge. In cluster mode: NOT_LEADER_OR_FOLLOWER
    /// unless this broker leads the data partition; at the first use in a leader epoch the state is read from the share
    /// coordinator (its errors, such as COORDINATOR_NOT_AVAILABLE, are returned as Kafka maps them), which fences the
    /// previous leader.
    /// </summary>
    internal (ErrorCode Error, SharePartition? Share) TryPartition(string groupId, TopicInfo topic, int partition, PartitionLog log, ShareGroupSettings settings)
    {
        if (_persister is null)
        {
            return (ErrorCode.None, Partition(groupId, topic, partition, log, settings));
        }

        if (_broker.Replicas?.StateOf(topic.Name, partition) is not { } state || state.Leader != _broker.NodeId)
        {
            Unload(topic.Name, partition);
            return (ErrorCode.NotLeaderOrFollower, null);
        }

        var key = new SharePartitionKey(groupId, topic.Id, partition);
        lock (_lock)
        {
            if (_partitions.TryGetValue(key, out var known) && known.LeaderEpoch == state.LeaderEpoch)
            {
                return (ErrorCode.None, known);
            }
        }

        // Blocking on the coordinator's answer: the callers are synchronous, and this happens once per leader epoch.
        var (error, stored) = _persister.ReadAsync(key, state.LeaderEpoch).GetAwaiter().GetResult();
        if (error != ErrorCode.None)
        {
            // As Kafka's share partition maps its persister's errors: the share coordinator moving or loading is
            // COORDINATOR_NOT_AVAILABLE to the consumer, a newer leader's epoch NOT_LEADER_OR_FOLLOWER.
            return (error switch
            {
                ErrorCode.NotCoordinator or ErrorCode.CoordinatorLoadInProgress => ErrorCode.CoordinatorNotAvailable,
                ErrorCode.FencedLeaderEpoch => ErrorCode.NotLeaderOrFollower,
                _ => error,
            }, null);
        }

        var share = stored is { StartOffset: >= 0 } ? Restored(key, stored, state.LeaderEpoch) : new SharePartition(key) { LeaderEpoch = state.LeaderEpoch };
        lock (_lock)
        {
            if (_partitions.TryGetValue(key, out var raced) && raced.LeaderEpoch == state.LeaderEpoch)
            {
                share = raced;
            }
            else
            {
                _partitions[key] = share;
            }
        }

        share.InitializeIfNeeded(log, settings.AutoOffsetReset, NowMs);
        return (ErrorCode.None, share);
    }

    /// <summary>Cluster mode: this broker no longer leads the data partition, so its share partitions are dropped.</summary>
    internal void Unload(string topicName, int partition)
    {
        if (_persister is null || _broker.Metadata.Find(topicName) is not { } topic)
        {
            return;
        }

        lock (_lock)
        {
            foreach (var key in _partitions.Keys.Where(k => k.TopicId == topic.Id && k.Partition == partition).ToList())
            {
                _partitions.Remove(key);
            }
        }
    }

    /// <summary>The share partitions of a group that exist already (DescribeShareGroupOffsets), by topic id.</summary>
    internal IReadOnlyList<SharePartition> PartitionsOf(string groupId)
    {
        lock (_lock)
        {
            return [.. _partitions.Where(kv => kv.Key.GroupId == groupId).Select(kv => kv.Value)];
        }
    }

    /// <summary>The start offset of every share partition of a group (what its members are done with).</summary>
    public IReadOnlyList<(Guid TopicId, int Partition, long StartOffset)> StartOffsets(string groupId) =>
        [.. PartitionsOf(groupId).Select(p => (p.Key.TopicId, p.Key.Partition, p.StartOffset))];

    /// <summary>
    /// Writes the state of the partitions that changed to __share_group_state as one batch; false (logged) when the
    /// log could not be written, which the caller reports (Kafka's persister fails the request the same way).
    /// </summary>
    internal bool Persist(IEnumerable<SharePartition> partitions)
    {
        var now = NowMs;
        var dirty = partitions.Distinct().Where(p => p.IsDirty).Select(p => (p.Key, (ShareSnapshotValue?)p.TakeSnapshot(now))).ToList();
        if (dirty.Count == 0)
        {
            return true;
        }

        return Store(dirty);
    }

    /// <summary>
    /// Drops a group's state of the given topics (DeleteShareGroupOffsets), tombstoned in __share_group_state. In cluster
    /// mode (on the group coordinator) every partition of each topic is deleted at the share coordinator, and the topics
    /// leave the group's initialized topics.
    /// </summary>
    internal bool DeletePartitions(string groupId, IReadOnlyCollection<TopicInfo> topics)
    {
        var topicIds = topics.Select(t => t.Id).ToHashSet();
        List<SharePartitionKey> removed;
        if (_persister is not null)
        {
            var keys = topics.SelectMany(t => Enumerable.Range(0, t.PartitionCount).Select(p => (new SharePartitionKey(groupId, t.Id, p), (ShareSnapshotValue?)null))).ToList();
            if (keys.Count > 0 && _persister.WriteAsync(keys).GetAwaiter().GetResult() is var error and not ErrorCode.None)
            {
                LogClusterDeleteFailed(_logger, groupId, error);
                return false;
            }

            lock (_lock)
            {
                if (_groups.TryGetValue(groupId, out var group) && topicIds.Any(id => group.InitializedTopics.Remove(id)))
                {
                    WriteMembership(group.GroupId, ShareGroupRecords.Write(group, []));
                }

                foreach (var key in _partitions.Keys.Where(k => k.GroupId == groupId && topicIds.Contains(k.TopicId)).ToList())
                {
                    _partitions.Remove(key);
                }
            }

            return true;
        }

        lock (_lock)
        {
            removed = [.. _partitions.Keys.Where(k => k.GroupId == groupId && topicIds.Contains(k.TopicId))];
            foreach (var key in removed)
            {
                _partitions.Remove(key);
            }
        }

        return Tombstone(groupId, removed);
    }

    /// <summary>Whether the group has members (AlterShareGroupOffsets and DeleteShareGroupOffsets need it empty).</summary>
    internal bool HasMembers(string groupId)
    {
        lock (_lock)
        {
            return _groups.TryGetValue(groupId, out var group) && group.Members.Count > 0;
        }
    }

    /// <summary>Removes the members whose session expired (the timer runs it at the earliest deadline); returns how many.</summary>
    public int ExpireMembers()
    {
        var expired = new List<(string GroupId, string MemberId)>();
        lock (_lock)
        {
            var now = NowMs;
            foreach (var group in _groups.Values)
            {
                foreach (var member in group.Members.Values.Where(m => m.SessionDeadlineMs <= now).ToList())
                {
                    RemoveMember(group, member);
                    expired.Add((group.GroupId, member.MemberId));
                    LogMemberExpired(_logger, group.GroupId, member.MemberId);
                }
            }

            // Re-armed for the next deadline: the timer fires once per expiry, never periodically.
            ScheduleExpiry();
        }

        foreach (var (groupId, memberId) in expired)
        {
            CloseMember(groupId, memberId);
        }

        return expired.Count;
    }

    // Caller holds _lock: the timer fires at the earliest member deadline, or not at all without members.
    private void ScheduleExpiry()
    {
        var next = _groups.Values.SelectMany(g => g.Members.Values).Select(m => (long?)m.SessionDeadlineMs).Min();
        var due = next is { } deadline ? TimeSpan.FromMilliseconds(Math.Max(1, deadline - NowMs)) : Timeout.InfiniteTimeSpan;
        _expiryTimer.Change(due, Timeout.InfiniteTimeSpan);
    }

    private bool Tombstone(string groupId, List<SharePartitionKey> removed)
    {
        if (removed.Count == 0 || Store([.. removed.Select(k => (k, (ShareSnapshotValue?)null))]))
        {
            return true;
        }

        LogDeleteFailed(_logger, groupId);
        return false;
    }

    // A single node writes to its share coordinator directly; cluster mode through the persister, blocking on the
    // answer (Kafka's share partition waits for its persister before answering too). A write a newer leader fenced
    // drops the stale share partitions.
    private bool Store(List<(SharePartitionKey Key, ShareSnapshotValue? Value)> states)
    {
        if (_persister is null)
        {
            try
            {
                _broker.ShareCoordinator.Put(states);
                return true;
            }
            catch (IOException e)
            {
                LogPersistFailed(_logger, e);
                return false;
            }
        }

        // A newer leader (FENCED_LEADER_EPOCH) or a reset by AlterShareGroupOffsets (FENCED_STATE_EPOCH) owns the state
        // now: the next use loads it again.
        var error = _persister.WriteAsync(states).GetAwaiter().GetResult();
        if (error is ErrorCode.FencedLeaderEpoch or ErrorCode.FencedStateEpoch)
        {
            lock (_lock)
            {
                foreach (var (key, _) in states)
                {
                    _partitions.Remove(key);
                }
            }
        }

        if (error != ErrorCode.None)
        {
            LogPersistRefused(_logger, error);
        }

        return error == ErrorCode.None;
    }

    private static SharePartition Restored(SharePartitionKey key, ShareSnapshotValue snapshot, int leaderEpoch)
    {
        var partition = new SharePartition(key) { LeaderEpoch = leaderEpoch };
        partition.Restore(snapshot.StartOffset, snapshot.SnapshotEpoch, snapshot.StateEpoch, snapshot.StateBatches.Select(b => (b.FirstOffset, b.LastOffset, (RecordState)b.DeliveryState, b.DeliveryCount)));
        return partition;
    }

    // Caller holds _lock.
    private void RemoveMember(ShareGroup group, ShareGroupMember member)
    {
        group.Members.Remove(member.MemberId);
        group.Reassign(SubscribedPartitions(group));
        WriteMembership(group.GroupId, ShareGroupRecords.Write(group, [member.MemberId]));
    }

    // Caller holds _lock, so that records of one group reach the log in the order of its changes. A failed write is
    // logged: the group goes on in memory and its next change writes its whole state again.
    private void WriteMembership(string groupId, List<(byte[] Key, byte[]? Value)> records)
    {
        try
        {
            _broker.Groups.AppendShareGroupRecords(groupId, records);
        }
        catch (IOException e)
        {
            LogMembershipWriteFailed(_logger, e);
        }
    }

    /// <summary>
    /// Takes the share groups the group coordinator's load pass over <c>__consumer_offsets</c> replayed (at a single
    /// node's start; in cluster mode each time this broker becomes its leader): every group with its epochs, members,
    /// assignments and initialized topics. Members get a full session timeout from now to heartbeat again; a group
    /// whose subscribed topics changed meanwhile (another metadata hash) is reassigned at its next heartbeat.
    /// </summary>
    private void LoadMembership(Dictionary<string, ShareGroupRecords.Loaded> loaded)
    {
        lock (_lock)
        {
            foreach (var groupId in loaded.Keys)
            {
                _groups.Remove(groupId);
            }

            LoadGroups(loaded);
            LogMembershipLoaded(_logger, _groups.Count);
            ScheduleExpiry();
        }
    }

    /// <summary>Cluster mode: this broker no longer leads a partition of __consumer_offsets, so it forgets the membership of its share groups.</summary>
    private void UnloadMembership(int partition)
    {
        lock (_lock)
        {
            var gone = _groups.Keys.Where(id => _broker.Groups.CoordinatorPartitionFor(id) == partition).ToList();
            var count = gone.Count;
            foreach (var groupId in gone)
            {
                _groups.Remove(groupId);
            }

            ScheduleExpiry();
            LogMembershipUnloaded(_logger, count);
        }
    }

    // Caller holds _lock.
    private void LoadGroups(Dictionary<string, ShareGroupRecords.Loaded> loaded)
    {
        var now = NowMs;
        foreach (var (groupId, state) in loaded)
        {
            if (state.Metadata is not { } metadata)
            {
                continue;
            }

            var group = new ShareGroup(groupId) { GroupEpoch = metadata.Epoch, AssignmentEpoch = state.AssignmentEpoch };
            foreach (var t in state.InitializedTopics)
            {
                group.InitializedTopics[t.TopicId] = (t.TopicName, [.. t.Partitions]);
            }

            var sessionTimeoutMs = SettingsFor(groupId).SessionTimeoutMs;
            foreach (var (memberId, m) in state.Members)
            {
                var current = state.Current.GetValueOrDefault(memberId);
                group.Members[memberId] = new ShareGroupMember(memberId)
                {
                    RackId = m.RackId,
                    ClientId = m.ClientId,
                    ClientHost = m.ClientHost,
                    SubscribedTopicNames = [.. m.SubscribedTopicNames],
                    Epoch = current?.MemberEpoch ?? 0,
                    PreviousEpoch = current?.PreviousMemberEpoch ?? 0,
                    Assignment = current?.AssignedPartitions.ToDictionary(t => t.TopicId, t => t.Partitions.ToArray()) ?? [],
                    Target = state.Targets.GetValueOrDefault(memberId) ?? [],
                    SessionDeadlineMs = now + sessionTimeoutMs,
                };
            }

            var topics = SubscribedPartitions(group);
            group.SubscribedPartitions = ShareGroupRecords.Hash(topics) == metadata.MetadataHash ? topics : new Dictionary<string, (Guid, int)>();
            _groups[groupId] = group;
        }
    }

    /// <summary>A member whose session expired: its share session ends and every record it holds is released.</summary>
    private void CloseMember(string groupId, string memberId)
    {
        lock (_lock)
        {
            _sessions.Remove((groupId, memberId));
        }

        if (ReleaseMember(groupId, memberId))
        {
            DropIdlePartitions(groupId);
        }
    }

    /// <summary>
    /// Cluster mode: once no share session of the group is left on this broker, its share partitions (written to the
    /// share coordinator) are dropped, as Kafka's share-partition manager does when a group empties on a broker; the
    /// next use loads them again, so a reset or deletion made meanwhile by the group coordinator is seen.
    /// </summary>
    private void DropIdlePartitions(string groupId)
    {
        if (_persister is null)
        {
            return;
        }

        lock (_lock)
        {
            if (_sessions.Keys.Any(k => k.GroupId == groupId))
            {
                return;
            }

            foreach (var key in _partitions.Keys.Where(k => k.GroupId == groupId).ToList())
            {
                _partitions.Remove(key);
            }
        }
    }

    // Caller holds _lock.
    private Dictionary<string, (Guid Id, int Partitions)> SubscribedPartitions(ShareGroup group)
    {
        var topics = new Dictionary<string, (Guid Id, int Partitions)>(StringComparer.Ordinal);
        foreach (var name in group.SubscribedTopicNames)
        {
            if (_broker.Metadata.Find(name) is { IsInternal: false } topic)
            {
                topics[name] = (topic.Id, topic.PartitionCount);
            }
        }

        return topics;
    }

    private static bool SameTopics(IReadOnlyDictionary<string, (Guid Id, int Partitions)> a, IReadOnlyDictionary<string, (Guid Id, int Partitions)> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var other) && other == kv.Value);

    private static bool SameAssignment(IReadOnlyDictionary<Guid, int[]> a, IReadOnlyDictionary<Guid, int[]> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var other) && other.AsSpan().SequenceEqual(kv.Value));

    [LoggerMessage(EventId = 643, Level = LogLevel.Information, Message = "Created share group {GroupId}")]
    private static partial void LogGroupCreated(ILogger logger, string groupId);

    [LoggerMessage(EventId = 644, Level = LogLevel.Information, Message = "Share group {GroupId}: member {MemberId} expired")]
    private static partial void LogMemberExpired(ILogger logger, string groupId, string memberId);

    [LoggerMessage(EventId = 645, Level = LogLevel.Error, Message = "Could not write __share_group_state")]
    private static partial void LogPersistFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 647, Level = LogLevel.Error, Message = "Could not write share-group membership to __consumer_offsets")]
    private static partial void LogMembershipWriteFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 649, Level = LogLevel.Information, Message = "Loaded {Groups} share groups from __consumer_offsets")]
    private static partial void LogMembershipLoaded(ILogger logger, int groups);

    [LoggerMessage(EventId = 654, Level = LogLevel.Warning, Message = "The share coordinator refused a share-partition state: {Error}")]
    private static partial void LogPersistRefused(ILogger logger, ErrorCode error);

    [LoggerMessage(EventId = 1160, Level = LogLevel.Information, Message = "Dropped the membership of {Groups} share groups: this broker no longer leads their partition of __consumer_offsets")]
    private static partial void LogMembershipUnloaded(ILogger logger, int groups);

    [LoggerMessage(EventId = 1161, Level = LogLevel.Warning, Message = "Share group {GroupId}: the share coordinator did not delete its state ({Error}); the group stays")]
    private static partial void LogClusterDeleteFailed(ILogger logger, string groupId, ErrorCode error);

    [LoggerMessage(EventId = 646, Level = LogLevel.Warning, Message = "Share group {GroupId}: its state was dropped in memory but its tombstones could not be written")]
    private static partial void LogDeleteFailed(ILogger logger, string groupId);
}
