using Tributary.Broker.Metadata;
using Tributary.Protocol;

namespace Tributary.Broker.Groups;

// KIP-848 consumer groups (ConsumerGroupHeartbeat, ConsumerGroupDescribe). Their membership lives in _consumerGroups
// and is written to __consumer_offsets as it changes (see ConsumerGroup), so a restarted broker reloads it and members
// carry on heartbeating; their committed offsets live in the classic table's entry of the same id, which carries no
// members and so persists offsets exactly as for classic groups. Lock order: a classic group's lock may be held while
// taking a consumer group's lock, never the reverse.
public sealed partial class GroupCoordinator
{
    private readonly Dictionary<string, ConsumerGroup> _consumerGroups = new(StringComparer.Ordinal);

    internal MetadataStore Metadata => _broker.Metadata;

    internal ConsumerGroupSettings ConsumerSettings => field ??= ConsumerGroupSettings.From(_broker.Config);

    /// <summary>
    /// A group's settings: its group configs (consumer.session.timeout.ms, consumer.heartbeat.interval.ms) over the
    /// broker's. Only a group with configs of its own pays for the lookup's copy.
    /// </summary>
    internal ConsumerGroupSettings ConsumerSettingsFor(string groupId) =>
        Metadata.HasGroupConfigs(groupId) ? ConsumerGroupSettings.From(_broker.Config, Metadata.GroupConfigs(groupId)) : ConsumerSettings;

    public ConsumerGroupHeartbeatResult ConsumerGroupHeartbeat(ConsumerGroupHeartbeatParameters p)
    {
        var invalid = ValidateHeartbeat(p);
        if (invalid is not null)
        {
            return invalid;
        }

        while (true)
        {
            if (p.MemberEpoch == 0 && ClassicGroupInUse(p.GroupId))
            {
                // Kafka (without online migration): a classic group with members cannot be joined with the consumer protocol.
                return ConsumerGroupHeartbeatResult.Failed(ErrorCode.GroupIdNotFound, $"Group {p.GroupId} is not a consumer group.", p.MemberId);
            }

            var group = p.MemberEpoch == 0 ? GetOrCreateConsumerGroup(p.GroupId) : FindConsumerGroup(p.GroupId);
            if (group is null)
            {
                return p.MemberEpoch == 0
                    ? ConsumerGroupHeartbeatResult.Failed(ErrorCode.CoordinatorNotAvailable, "The coordinator holds too many groups.", p.MemberId)
                    // Deviation: Kafka answers GROUP_ID_NOT_FOUND, which the Java consumer treats as fatal. A group can
                    // vanish under live members here when it was never written (tributary.storage=memory restarted, or
                    // a failed write): UNKNOWN_MEMBER_ID makes them rejoin with epoch 0, resuming from committed offsets.
                    : ConsumerGroupHeartbeatResult.Failed(ErrorCode.UnknownMemberId, $"Group {p.GroupId} is not known to this coordinator.", p.MemberId);
            }

            lock (group.Lock)
            {
                if (!group.IsDead)
                {
                    return group.Heartbeat(p, NowMs);
                }
            }
        }
    }

    /// <summary>ConsumerGroupDescribe for one group: null when there is no consumer-protocol group of that id.</summary>
    public ConsumerGroupDescription? DescribeConsumerGroup(string groupId)
    {
        var group = FindConsumerGroup(groupId);
        if (group is null)
        {
            return null;
        }

        lock (group.Lock)
        {
            return group.IsDead ? null : group.Describe();
        }
    }

    /// <summary>The consumer-protocol groups as ListGroups shows them (group type "consumer").</summary>
    public IReadOnlyList<(string GroupId, ConsumerGroupState State)> ListConsumerGroups()
    {
        var groups = AllConsumerGroups();
        var listings = new List<(string GroupId, ConsumerGroupState State)>(groups.Length);
        foreach (var group in groups)
        {
            lock (group.Lock)
            {
                if (!group.IsDead)
                {
                    listings.Add((group.GroupId, group.State));
                }
            }
        }

        return listings;
    }

    /// <summary>Appends a consumer group's records; false (logged) when __consumer_offsets could not be written.</summary>
    internal bool AppendConsumerGroupRecords(string groupId, IReadOnlyList<(byte[] Key, byte[]? Value)> records)
    {
        try
        {
            _store.Append(groupId, records);
            return true;
        }
        catch (IOException e)
        {
            LogPersistFailed(e, groupId);
            return false;
        }
    }

    internal void RunTimer(ConsumerGroup group)
    {
        try
        {
            group.OnTimer(NowMs);
        }
        catch (Exception e)
        {
            // A timer callback has no caller to report to; an escaping exception would end the process.
            LogTimerFailed(e, group.GroupId);
        }
    }

    private static ConsumerGroupHeartbeatResult? ValidateHeartbeat(ConsumerGroupHeartbeatParameters p)
    {
        // Kafka's request checks (INVALID_REQUEST), in its order.
        string? problem =
            p.GroupId.Length == 0 ? "GroupId can't be empty."
            : p.InstanceId is { Length: 0 } ? "InstanceId can't be empty."
            : p.MemberEpoch < -2 ? $"MemberEpoch {p.MemberEpoch} is invalid."
            : p.MemberEpoch != 0 && p.MemberId.Length == 0 ? "MemberId can't be empty."
            : p.MemberEpoch == 0 && p.MemberId.Length == 0 && p.ClientChoosesMemberId ? "MemberId can't be empty."
            : p.MemberEpoch == 0 && p.RebalanceTimeoutMs < 0 ? "RebalanceTimeoutMs must be provided in first request."
            : p.MemberEpoch == 0 && p.TopicPartitions is { Count: > 0 } ? "TopicPartitions must be empty when (re-)joining."
            : p.MemberEpoch == 0 && p.SubscribedTopicNames is null && p.SubscribedTopicRegex is null ? "SubscribedTopicNames or SubscribedTopicRegex must be set in first request."
            : p.MemberEpoch == -2 && p.InstanceId is null ? "InstanceId can't be null when MemberEpoch is -2."
            : null;
        if (problem is not null)
        {
            return ConsumerGroupHeartbeatResult.Failed(ErrorCode.InvalidRequest, problem, p.MemberId);
        }

        if (!string.IsNullOrEmpty(p.SubscribedTopicRegex) && TopicRegex.TryCreate(p.SubscribedTopicRegex, out var regexError) is null)
        {
            return ConsumerGroupHeartbeatResult.Failed(ErrorCode.InvalidRegularExpression, $"SubscribedTopicRegex `{p.SubscribedTopicRegex}` is not a valid regular expression: {regexError}", p.MemberId);
        }

        if (p.ServerAssignor is not null && !ConsumerGroupAssignors.IsSupported(p.ServerAssignor))
        {
            return ConsumerGroupHeartbeatResult.Failed(ErrorCode.UnsupportedAssignor, $"ServerAssignor {p.ServerAssignor} is not supported. Supported assignors: uniform, range.", p.MemberId);
        }

        return null;
    }

    /// <summary>
    /// For OffsetCommit: the error when <paramref name="groupId"/> is a consumer-protocol group and the member or epoch is
    /// not current (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH, FENCED_MEMBER_EPOCH) or a member commits below OffsetCommit v9
    /// (UNSUPPORTED_VERSION; null <paramref name="offsetCommitVersion"/>: a transactional commit), None when accepted,
    /// null for other groups.
    /// </summary>
    private ErrorCode? ValidateConsumerCommit(string groupId, int memberEpoch, string memberId, short? offsetCommitVersion)
    {
        var group = FindConsumerGroup(groupId);
        if (group is null)
        {
            return null;
        }

        lock (group.Lock)
        {
            return group.IsDead ? null : group.ValidateCommit(memberEpoch, memberId, offsetCommitVersion);
        }
    }

    /// <summary>
    /// For JoinGroup: INCONSISTENT_GROUP_PROTOCOL while a consumer-protocol group of that id has members; an empty one is
    /// deleted (tombstones in __consumer_offsets; COORDINATOR_NOT_AVAILABLE when they cannot be written) so the classic
    /// group can take the id (its offsets stay, they are in the classic table).
    /// </summary>
    private ErrorCode ClaimForClassic(string groupId)
    {
        var group = FindConsumerGroup(groupId);
        if (group is null)
        {
            return ErrorCode.None;
        }

        lock (group.Lock)
        {
            if (group.IsDead)
            {
                return ErrorCode.None;
            }

            if (group.MemberCount > 0)
            {
                return ErrorCode.InconsistentGroupProtocol;
            }

            if (!AppendConsumerGroupRecords(groupId, group.DeletionRecords()))
            {
                return ErrorCode.CoordinatorNotAvailable;
            }

            group.MarkDead();
        }

        lock (_groupsLock)
        {
            if (_consumerGroups.TryGetValue(groupId, out var current) && current == group)
            {
                _consumerGroups.Remove(groupId);
            }
        }

        return ErrorCode.None;
    }

    private bool ConsumerGroupHasMembers(string groupId)
    {
        var group = FindConsumerGroup(groupId);
        if (group is null)
        {
            return false;
        }

        lock (group.Lock)
        {
            return !group.IsDead && group.MemberCount > 0;
        }
    }

    /// <summary>
    /// DeleteGroups of a consumer-protocol group: NON_EMPTY_GROUP while it has members; an empty one is removed and null
    /// returned so the classic entry (its offsets) is deleted as usual, or None when it committed no offsets.
    /// </summary>
    private ErrorCode? DeleteConsumerGroup(string groupId)
    {
        var existed = IsConsumerGroup(groupId);
        var claim = ClaimForClassic(groupId);
        if (claim != ErrorCode.None)
        {
            return claim == ErrorCode.InconsistentGroupProtocol ? ErrorCode.NonEmptyGroup : claim;
        }

        return existed && Find(groupId) is null ? ErrorCode.None : null;
    }

    /// <summary>
    /// Kafka's clean-up at the offsets retention check: an empty consumer group whose committed offsets have all expired
    /// (or that never committed any) is deleted.
    /// </summary>
    private void DeleteEmptyConsumerGroups()
    {
        foreach (var group in AllConsumerGroups())
        {
            var offsets = Find(group.GroupId);
            if (offsets is not null)
            {
                lock (offsets.Lock)
                {
                    if (offsets.State != GroupState.Dead && offsets.HasOffsets)
                    {
                        continue;
                    }
                }
            }

            if (IsConsumerGroup(group.GroupId) && ClaimForClassic(group.GroupId) == ErrorCode.None)
            {
                LogGroupDeleted(group.GroupId);
            }
        }
    }

    private ConsumerGroup[] AllConsumerGroups()
    {
        lock (_groupsLock)
        {
            return [.. _consumerGroups.Values];
        }
    }

    /// <summary>
    /// Rebuilds the consumer groups from their records (in log order, later records winning). A group exists while it
    /// has a metadata record, a member while it has a member metadata record; the other records default to empty.
    /// </summary>
    private int LoadConsumerGroups(IEnumerable<OffsetsTopicFormat.Entry> entries, long nowMs)
    {
        var groups = new Dictionary<string, OffsetsTopicFormat.ConsumerGroupMetadata>(StringComparer.Ordinal);
        var partitionCounts = new Dictionary<string, IReadOnlyList<(Guid TopicId, int Partitions)>>(StringComparer.Ordinal);
        var assignmentEpochs = new Dictionary<string, int>(StringComparer.Ordinal);
        var members = new Dictionary<(string Group, string MemberId), OffsetsTopicFormat.ConsumerMemberMetadata>();
        var assignments = new Dictionary<(string Group, string MemberId), OffsetsTopicFormat.ConsumerMemberAssignment>();
        var targets = new Dictionary<(string Group, string MemberId), IReadOnlyList<(Guid TopicId, int[] Partitions)>>();
        foreach (var entry in entries)
        {
            switch (entry)
            {
                case OffsetsTopicFormat.ConsumerGroupEntry g:
                    Set(groups, g.Group, g.Metadata);
                    break;
                case OffsetsTopicFormat.ConsumerPartitionsEntry p:
                    Set(partitionCounts, p.Group, p.PartitionCounts);
                    break;
                case OffsetsTopicFormat.ConsumerAssignmentEpochEntry { AssignmentEpoch: { } epoch } e:
                    assignmentEpochs[e.Group] = epoch;
                    break;
                case OffsetsTopicFormat.ConsumerAssignmentEpochEntry e:
                    assignmentEpochs.Remove(e.Group);
                    break;
                case OffsetsTopicFormat.ConsumerMemberEntry m:
                    Set(members, (m.Group, m.MemberId), m.Metadata);
                    break;
                case OffsetsTopicFormat.ConsumerAssignmentEntry a:
                    Set(assignments, (a.Group, a.MemberId), a.Assignment);
                    break;
                case OffsetsTopicFormat.ConsumerTargetEntry t:
                    Set(targets, (t.Group, t.MemberId), t.Partitions);
                    break;
            }
        }

        var noAssignment = new OffsetsTopicFormat.ConsumerMemberAssignment(0, -1, false, [], []);
        var membersByGroup = members.ToLookup(m => m.Key.Group, m => (m.Key.MemberId, m.Value, assignments.GetValueOrDefault(m.Key, noAssignment)));
        var targetsByGroup = targets.ToLookup(t => t.Key.Group, t => (t.Key.MemberId, t.Value));
        foreach (var (groupId, metadata) in groups)
        {
            var snapshot = new OffsetsTopicFormat.ConsumerGroupSnapshot(
                metadata.GroupEpoch,
                assignmentEpochs.GetValueOrDefault(groupId),
                metadata.Assignor,
                partitionCounts.GetValueOrDefault(groupId) ?? []);
            var group = new ConsumerGroup(groupId, this);
            lock (group.Lock)
            {
                group.Restore(snapshot, membersByGroup[groupId], targetsByGroup[groupId].ToDictionary(t => t.MemberId, t => t.Value, StringComparer.Ordinal), nowMs);
            }

            _consumerGroups[groupId] = group;
        }

        return groups.Count;

        static void Set<TKey, TValue>(Dictionary<TKey, TValue> map, TKey key, TValue? value)
            where TKey : notnull
            where TValue : class
        {
            if (value is null)
            {
                map.Remove(key);
            }
            else
            {
                map[key] = value;
            }
        }
    }

    private bool IsConsumerGroup(string groupId)
    {
        lock (_groupsLock)
        {
            return _consumerGroups.ContainsKey(groupId);
        }
    }

    private bool ClassicGroupInUse(string groupId)
    {
        var classic = Find(groupId);
        if (classic is null)
        {
            return false;
        }

        lock (classic.Lock)
        {
            return classic.State != GroupState.Dead && classic.MemberCount > 0;
        }
    }

    private ConsumerGroup? FindConsumerGroup(string groupId) => FindGroup(_consumerGroups, groupId);

    // Consumer groups count against GroupsMax together with the classic groups.
    private ConsumerGroup? GetOrCreateConsumerGroup(string groupId) =>
        GetOrCreateGroup(_consumerGroups, groupId, () => _groups.Count + _consumerGroups.Count, () => new ConsumerGroup(groupId, this));

    private void DisposeConsumerGroups(Func<string, bool>? which = null)
    {
        foreach (var group in AllConsumerGroups().Where(g => which?.Invoke(g.GroupId) ?? true))
        {
            lock (group.Lock)
            {
                group.MarkDead();
            }
        }
    }
}
