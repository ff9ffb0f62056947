using Tributary.Protocol;

namespace Tributary.Broker.Groups;

/// <summary>
/// A KIP-848 consumer group: the broker computes the assignment. Three epochs, as in the KIP:
/// the <em>group epoch</em> bumps when membership, a subscription, the chosen assignor or a subscribed topic's
/// partition count changes; the <em>assignment epoch</em> is the group epoch the target assignment was computed for
/// (always equal here: the target is computed in the heartbeat that bumps the group epoch); each member's
/// <em>member epoch</em> reaches the assignment epoch once the member has revoked what its target no longer holds.
///
/// Reconciliation of one member, at each of its heartbeats: partitions it owns outside its target are revoked first
/// (removed from its assignment, kept as pending revocation and still counted as owned) and its epoch stays; once it
/// reports that it no longer owns them, its epoch advances to the assignment epoch and it gets the partitions of its
/// target that no other member owns or is revoking; the rest are added at later heartbeats as they are released.
/// All methods are called with <see cref="Lock"/> held.
///
/// Persistence (<see cref="OffsetsTopicFormat"/>): each change is appended to <c>__consumer_offsets</c> before the
/// heartbeat is answered or the timer returns: the group's records (epoch and assignor, partition counts, assignment
/// epoch) when the group epoch bumps, a member's metadata or current-assignment record when it changes (compared with
/// the bytes last written for it, so a heartbeat that changes nothing writes nothing), a target record per member whose
/// target changed, and tombstones for members that left or expired and for the group when it is deleted. A failed write is logged and retried with the
/// next change (the group carries on in memory). <see cref="Restore"/> rebuilds the group after a restart with a fresh
/// session for every member, as Kafka does when a coordinator loads its groups.
/// </summary>
internal sealed class ConsumerGroup
{
    private readonly GroupCoordinator _coordinator;
    private readonly Dictionary<string, ConsumerGroupMember> _members = new(StringComparer.Ordinal);
    private Dictionary<string, HashSet<(Guid TopicId, int Partition)>> _target = new(StringComparer.Ordinal);
    private Dictionary<Guid, int> _partitionCounts = [];

    // Members' regexes resolved to topic names, each as of a MetadataStore.TopicsVersion (Kafka resolves a regex once
    // per group and refreshes it when the topics change).
    private readonly Dictionary<string, (long TopicsVersion, HashSet<string> Topics)> _resolvedRegexes = new(StringComparer.Ordinal);
    private ITimer? _timer;

    // Not yet written to __consumer_offsets: the group record, members' target records (a tombstone when the member is
    // gone), and tombstones for the records of members that left.
    private bool _metadataDirty;
    private readonly HashSet<string> _dirtyTargets = new(StringComparer.Ordinal);
    private readonly HashSet<string> _removedMembers = new(StringComparer.Ordinal);

    public ConsumerGroup(string groupId, GroupCoordinator coordinator)
    {
        GroupId = groupId;
        _coordinator = coordinator;
    }

    public string GroupId { get; }

    public Lock Lock { get; } = new();

    public int GroupEpoch { get; private set; }

    public int AssignmentEpoch { get; private set; }

    public string Assignor { get; private set; } = ConsumerGroupAssignors.Uniform;

    public bool IsDead { get; private set; }

    public int MemberCount => _members.Count;

    public ConsumerGroupState State =>
        IsDead ? ConsumerGroupState.Dead
        : _members.Count == 0 ? ConsumerGroupState.Empty
        : _members.Values.All(IsReconciled) ? ConsumerGroupState.Stable
        : ConsumerGroupState.Reconciling;

    private ConsumerGroupSettings Settings => _coordinator.ConsumerSettingsFor(GroupId);

    public ConsumerGroupHeartbeatResult Heartbeat(ConsumerGroupHeartbeatParameters p, long nowMs)
    {
        ConsumerGroupMember? member;
        var changed = false;
        if (p.MemberEpoch == 0)
        {
            var joined = Join(p, nowMs, out member, out changed);
            if (joined is not null)
            {
                return joined;
            }

        }
        else
        {
            if (!_members.TryGetValue(p.MemberId, out member) || member.LeftStatic)
            {
                return ConsumerGroupHeartbeatResult.Failed(ErrorCode.UnknownMemberId, $"Member {p.MemberId} is not a member of group {GroupId}.", p.MemberId);
            }

            var fenced = CheckEpoch(member, p);
            if (fenced is not null)
            {
                return fenced;
            }

            if (p.MemberEpoch is -1 or -2)
            {
                var left = Leave(member, p.MemberEpoch, nowMs);
                Persist(member);
                return left;
            }
        }

        changed |= Update(member, p);
        member.SessionDeadlineMs = nowMs + Settings.SessionTimeoutMs;
        if (p.TopicPartitions is not null)
        {
            member.Reported = [.. p.TopicPartitions.SelectMany(t => t.Partitions.Select(partition => (t.TopicId, partition)))];
        }

        // Partitions added to a subscribed topic (CreatePartitions) change the metadata the target was computed from.
        changed |= !SameCounts(SubscribedPartitionCounts(), _partitionCounts);
        if (changed)
        {
            BumpEpoch();
        }

        Reconcile(member, nowMs);
        Reschedule();
        Persist(member);
        var fullRequest = p.MemberEpoch == 0 || p.TopicPartitions is not null;
        IReadOnlyList<(Guid TopicId, int[] Partitions)>? assignment = null;
        if (fullRequest || member.SentAssignmentVersion != member.AssignmentVersion)
        {
            assignment = Group(member.Assigned);
            member.SentAssignmentVersion = member.AssignmentVersion;
        }

        return new ConsumerGroupHeartbeatResult(ErrorCode.None, null, member.MemberId, member.MemberEpoch, Settings.HeartbeatIntervalMs, assignment);
    }

    /// <summary>
    /// OffsetCommit from a member (Kafka's rules for consumer groups): epoch -1 with no member id only while empty; a
    /// member's non-transactional commit (<paramref name="offsetCommitVersion"/> set) needs OffsetCommit v9+.
    /// </summary>
    public ErrorCode ValidateCommit(int memberEpoch, string memberId, short? offsetCommitVersion)
    {
        if (memberEpoch < 0 && memberId.Length == 0 && _members.Count == 0)
        {
            return ErrorCode.None;
        }

        if (!_members.TryGetValue(memberId, out var member) || member.LeftStatic)
        {
            return ErrorCode.UnknownMemberId;
        }

        if (offsetCommitVersion < 9)
        {
            // Kafka: "OffsetCommit version 9 or above must be used by members using the modern group protocol".
            return ErrorCode.UnsupportedVersion;
        }

        return memberEpoch > member.MemberEpoch ? ErrorCode.FencedMemberEpoch
            : memberEpoch < member.MemberEpoch ? ErrorCode.StaleMemberEpoch
            : ErrorCode.None;
    }

    public ConsumerGroupDescription Describe()
    {
        var metadata = _coordinator.Metadata;
        return new ConsumerGroupDescription(GroupId, State, GroupEpoch, AssignmentEpoch, Assignor, [.. _members.Values.OrderBy(m => m.MemberId, StringComparer.Ordinal).Select(m =>
            new ConsumerGroupMemberDescription(m.MemberId, m.InstanceId, m.RackId, m.MemberEpoch, m.ClientId, m.ClientHost, [.. m.SubscribedTopicNames], m.SubscribedTopicRegex, Named(m.Assigned), Named(TargetOf(m.MemberId))))]);

        IReadOnlyList<(Guid TopicId, string TopicName, int[] Partitions)> Named(HashSet<(Guid TopicId, int Partition)> partitions) =>
            [.. Group(partitions).Select(t => (t.TopicId, metadata.Find(t.TopicId)?.Name ?? "", t.Partitions))];
    }

    /// <summary>The records that delete the group from __consumer_offsets (with anything about it still unwritten).</summary>
    public List<(byte[] Key, byte[]? Value)> DeletionRecords()
    {
        // Only called once the group is empty: every pending member and target record is a tombstone already.
        var records = PendingRecords(null, out _);
        records.RemoveAll(r => r.Value is not null);
        records.AddRange(OffsetsTopicFormat.ConsumerGroupTombstones(GroupId));
        return records;
    }

    public void MarkDead()
    {
        IsDead = true;
        _timer?.Dispose();
        _timer = null;
    }

    public void OnTimer(long nowMs)
    {
        if (IsDead)
        {
            return;
        }

        var expired = _members.Values.Where(m => m.SessionDeadlineMs <= nowMs || m.RevocationDeadlineMs <= nowMs).ToList();
        foreach (var member in expired)
        {
            _members.Remove(member.MemberId);
            _removedMembers.Add(member.MemberId);
            _coordinator.OnMemberExpired(GroupId, member.MemberId);
        }

        if (expired.Count > 0)
        {
            BumpEpoch();
            Persist(null);
        }

        Reschedule();
    }

    /// <summary>
    /// Rebuilds the group from its records in __consumer_offsets. Members get a fresh session (and those still revoking
    /// a fresh rebalance timeout) and are sent their full assignment at their next heartbeat, in case the answer that
    /// carried it was lost with the broker; what they own is taken to be everything they were given until they report.
    /// </summary>
    public void Restore(
        OffsetsTopicFormat.ConsumerGroupSnapshot group,
        IEnumerable<(string MemberId, OffsetsTopicFormat.ConsumerMemberMetadata Metadata, OffsetsTopicFormat.ConsumerMemberAssignment Assignment)> members,
        IReadOnlyDictionary<string, IReadOnlyList<(Guid TopicId, int[] Partitions)>> targets,
        long nowMs)
    {
        GroupEpoch = group.GroupEpoch;
        AssignmentEpoch = group.AssignmentEpoch;
        Assignor = group.Assignor;
        _partitionCounts = group.PartitionCounts.ToDictionary(t => t.TopicId, t => t.Partitions);
        foreach (var (memberId, m, a) in members)
        {
            var member = new ConsumerGroupMember(memberId)
            {
                InstanceId = m.InstanceId,
                RackId = m.RackId,
                ClientId = m.ClientId,
                ClientHost = m.ClientHost,
                RebalanceTimeoutMs = m.RebalanceTimeoutMs,
                SubscribedTopicNames = [.. m.SubscribedTopicNames],
                ServerAssignor = m.ServerAssignor,
                SubscribedTopicRegex = m.SubscribedTopicRegex,
                MemberEpoch = a.MemberEpoch,
                PreviousMemberEpoch = a.PreviousMemberEpoch,
                LeftStatic = a.LeftStatic,
                Assigned = Flatten(a.Assigned),
                PendingRevocation = Flatten(a.PendingRevocation),
                SessionDeadlineMs = nowMs + Settings.SessionTimeoutMs,
            };
            member.Reported = [.. member.Assigned.Concat(member.PendingRevocation)];
            member.RevocationDeadlineMs = member.PendingRevocation.Count > 0 ? nowMs + member.RebalanceTimeoutMs : long.MaxValue;
            member.PersistedMetadata = OffsetsTopicFormat.ConsumerMemberValue(MetadataOf(member));
            member.PersistedAssignment = OffsetsTopicFormat.ConsumerAssignmentValue(AssignmentOf(member));
            _members[memberId] = member;
            if (targets.TryGetValue(memberId, out var target))
            {
                _target[memberId] = Flatten(target);
            }
        }

        Reschedule();

        static HashSet<(Guid TopicId, int Partition)> Flatten(IReadOnlyList<(Guid TopicId, int[] Partitions)> topics) =>
            [.. topics.SelectMany(t => t.Partitions.Select(p => (t.TopicId, p)))];
    }

    private ConsumerGroupHeartbeatResult? Join(ConsumerGroupHeartbeatParameters p, long nowMs, out ConsumerGroupMember member, out bool isNew)
    {
        member = null!;
        isNew = false;
        var memberId = p.MemberId.Length > 0 ? p.MemberId : Guid.NewGuid().ToString("N");
        ConsumerGroupMember? previousStatic = null;
        if (p.InstanceId is not null)
        {
            previousStatic = _members.Values.FirstOrDefault(m => m.InstanceId == p.InstanceId);
            if (previousStatic is not null && !previousStatic.LeftStatic && previousStatic.MemberId != memberId)
            {
                return ConsumerGroupHeartbeatResult.Failed(ErrorCode.UnreleasedInstanceId, $"Static member {p.InstanceId} of group {GroupId} is still in use by {previousStatic.MemberId}.", p.MemberId);
            }
        }

        if (previousStatic is not null)
        {
            // A static member returning (KIP-848, epoch -2 then 0): the new member id takes over the previous member's
            // epoch, assignment and target, without a new group epoch unless its subscription differs.
            _members.Remove(previousStatic.MemberId);
            if (_target.Remove(previousStatic.MemberId, out var target))
            {
                _target[memberId] = target;
            }

            _removedMembers.Add(previousStatic.MemberId);
            _dirtyTargets.Add(previousStatic.MemberId);
            _dirtyTargets.Add(memberId);
            _removedMembers.Remove(memberId);
            previousStatic.MemberId = memberId;
            previousStatic.LeftStatic = false;
            previousStatic.SentAssignmentVersion = -1;
            previousStatic.PersistedMetadata = null;
            previousStatic.PersistedAssignment = null;
            _members[memberId] = previousStatic;
            member = previousStatic;
            return null;
        }

        if (_members.Remove(memberId, out _))
        {
            // A known member joining again with epoch 0 (after being fenced) starts over as a new member.
            _target.Remove(memberId);
        }
        else if (_members.Count >= _coordinator.GroupMaxSize)
        {
            return ConsumerGroupHeartbeatResult.Failed(ErrorCode.GroupMaxSizeReached, $"Group {GroupId} has reached its maximum size of {_coordinator.GroupMaxSize}.", p.MemberId);
        }

        isNew = true;
        member = new ConsumerGroupMember(memberId) { MemberEpoch = 0, SessionDeadlineMs = nowMs + Settings.SessionTimeoutMs };
        _members[memberId] = member;
        _removedMembers.Remove(memberId);
        return null;
    }

    private ConsumerGroupHeartbeatResult? CheckEpoch(ConsumerGroupMember member, ConsumerGroupHeartbeatParameters p)
    {
        if (p.MemberEpoch is -1 or -2 || p.MemberEpoch == member.MemberEpoch)
        {
            return null;
        }

        // A member whose last response was lost may repeat its previous epoch, provided it owns nothing it was not given.
        var owned = p.TopicPartitions?.SelectMany(t => t.Partitions.Select(partition => (t.TopicId, partition)));
        if (p.MemberEpoch == member.PreviousMemberEpoch && owned is not null && owned.All(member.Assigned.Contains))
        {
            return null;
        }

        return ConsumerGroupHeartbeatResult.Failed(ErrorCode.FencedMemberEpoch, $"The member epoch {p.MemberEpoch} is stale; the current epoch of {member.MemberId} is {member.MemberEpoch}.", member.MemberId);
    }

    private ConsumerGroupHeartbeatResult Leave(ConsumerGroupMember member, int epoch, long nowMs)
    {
        if (epoch == -2 && member.InstanceId is not null)
        {
            // A static member leaving temporarily keeps its assignment for its session timeout (KIP-848).
            member.LeftStatic = true;
            member.SessionDeadlineMs = nowMs + Settings.SessionTimeoutMs;
        }
        else
        {
            _members.Remove(member.MemberId);
            _removedMembers.Add(member.MemberId);
            BumpEpoch();
        }

        Reschedule();
        return new ConsumerGroupHeartbeatResult(ErrorCode.None, null, member.MemberId, epoch, 0, null);
    }

    /// <summary>Applies the request's changed fields; true when one of them changes the target assignment.</summary>
    private bool Update(ConsumerGroupMember member, ConsumerGroupHeartbeatParameters p)
    {
        var changed = false;

        // As Kafka: the client id and host are the ones of the member's latest heartbeat.
        member.ClientId = p.ClientId;
        member.ClientHost = p.ClientHost;
        if (p.InstanceId is not null)
        {
            member.InstanceId = p.InstanceId;
        }

        if (p.RackId is not null)
        {
            member.RackId = p.RackId;
        }

        if (p.RebalanceTimeoutMs >= 0)
        {
            member.RebalanceTimeoutMs = p.RebalanceTimeoutMs;
        }

        if (p.SubscribedTopicNames is not null && !p.SubscribedTopicNames.Order(StringComparer.Ordinal).SequenceEqual(member.SubscribedTopicNames.Order(StringComparer.Ordinal)))
        {
            member.SubscribedTopicNames = [.. p.SubscribedTopicNames.Distinct(StringComparer.Ordinal)];
            changed = true;
        }

        if (p.SubscribedTopicRegex is not null && p.SubscribedTopicRegex != member.SubscribedTopicRegex)
        {
            member.SubscribedTopicRegex = p.SubscribedTopicRegex;
            changed = true;
        }

        if (p.ServerAssignor is not null && p.ServerAssignor != member.ServerAssignor)
        {
            member.ServerAssignor = p.ServerAssignor;
            changed = true;
        }

        return changed;
    }

    private void BumpEpoch()
    {
        GroupEpoch++;
        _partitionCounts = SubscribedPartitionCounts();

        // The preferred assignor is the one most members name (ties by name); uniform when none names one, as in Kafka.
        Assignor = _members.Values.Where(m => m.ServerAssignor is not null).GroupBy(m => m.ServerAssignor!)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Key).FirstOrDefault() ?? ConsumerGroupAssignors.Uniform;
        var metadata = _coordinator.Metadata;
        var subscriptions = _members.Values.ToDictionary(
            m => m.MemberId,
            m => SubscribedTopics(m).Select(metadata.Find).Where(t => t is not null).Select(t => t!.Id).ToHashSet(),
            StringComparer.Ordinal);
        var previous = _target;
        _target = ConsumerGroupAssignors.Assign(Assignor, subscriptions, _partitionCounts, previous);
        AssignmentEpoch = GroupEpoch;
        _metadataDirty = true;
        foreach (var memberId in previous.Keys.Union(_target.Keys))
        {
            if (!previous.TryGetValue(memberId, out var before) || !_target.TryGetValue(memberId, out var after) || !before.SetEquals(after))
            {
                _dirtyTargets.Add(memberId);
            }
        }
    }

    /// <summary>Appends what changed (see the class comment); <paramref name="member"/> is the member whose heartbeat this is.</summary>
    private void Persist(ConsumerGroupMember? member)
    {
        var records = PendingRecords(member, out var memberValues);
        if (records.Count == 0 || !_coordinator.AppendConsumerGroupRecords(GroupId, records))
        {
            return;
        }

        _metadataDirty = false;
        _dirtyTargets.Clear();
        _removedMembers.Clear();
        if (memberValues is var (metadata, assignment))
        {
            member!.PersistedMetadata = metadata;
            member.PersistedAssignment = assignment;
        }
    }

    private List<(byte[] Key, byte[]? Value)> PendingRecords(ConsumerGroupMember? member, out (byte[] Metadata, byte[] Assignment)? memberValues)
    {
        var records = new List<(byte[] Key, byte[]? Value)>();
        if (_metadataDirty)
        {
            var counts = _partitionCounts.OrderBy(c => c.Key).Select(c => (c.Key, c.Value)).ToList();
            records.AddRange(OffsetsTopicFormat.ConsumerGroupRecords(GroupId, new(GroupEpoch, AssignmentEpoch, Assignor, counts), id => _coordinator.Metadata.Find(id)?.Name ?? ""));
        }

        foreach (var memberId in _removedMembers)
        {
            records.Add((OffsetsTopicFormat.ConsumerMemberKey(GroupId, memberId), null));
            records.Add((OffsetsTopicFormat.ConsumerAssignmentKey(GroupId, memberId), null));
        }

        foreach (var memberId in _dirtyTargets)
        {
            var value = _members.ContainsKey(memberId) && _target.TryGetValue(memberId, out var target) ? OffsetsTopicFormat.ConsumerTargetValue(Group(target)) : null;
            records.Add((OffsetsTopicFormat.ConsumerTargetKey(GroupId, memberId), value));
        }

        memberValues = null;
        if (member is not null && _members.TryGetValue(member.MemberId, out var current) && current == member)
        {
            var metadata = OffsetsTopicFormat.ConsumerMemberValue(MetadataOf(member));
            var assignment = OffsetsTopicFormat.ConsumerAssignmentValue(AssignmentOf(member));
            if (member.PersistedMetadata is null || !metadata.AsSpan().SequenceEqual(member.PersistedMetadata))
            {
                records.Add((OffsetsTopicFormat.ConsumerMemberKey(GroupId, member.MemberId), metadata));
            }

            if (member.PersistedAssignment is null || !assignment.AsSpan().SequenceEqual(member.PersistedAssignment))
            {
                records.Add((OffsetsTopicFormat.ConsumerAssignmentKey(GroupId, member.MemberId), assignment));
            }

            memberValues = (metadata, assignment);
        }

        return records;
    }

    private static OffsetsTopicFormat.ConsumerMemberMetadata MetadataOf(ConsumerGroupMember m) =>
        new(m.InstanceId, m.RackId, m.ClientId, m.ClientHost, m.RebalanceTimeoutMs, m.SubscribedTopicNames, m.ServerAssignor, m.SubscribedTopicRegex);

    private static OffsetsTopicFormat.ConsumerMemberAssignment AssignmentOf(ConsumerGroupMember m) =>
        new(m.MemberEpoch, m.PreviousMemberEpoch, m.LeftStatic, Group(m.Assigned), Group(m.PendingRevocation));

    private void Reconcile(ConsumerGroupMember member, long nowMs)
    {
        var target = TargetOf(member.MemberId);
        if (member.PendingRevocation.Count > 0)
        {
            if (member.Reported.Overlaps(member.PendingRevocation))
            {
                return;
            }

            member.PendingRevocation = [];
            member.RevocationDeadlineMs = long.MaxValue;
        }

        var revoke = member.Assigned.Where(tp => !target.Contains(tp)).ToHashSet();
        if (revoke.Count > 0)
        {
            member.Assigned = [.. member.Assigned.Where(target.Contains)];
            member.PendingRevocation = revoke;
            member.RevocationDeadlineMs = nowMs + member.RebalanceTimeoutMs;
            member.AssignmentVersion++;
            return;
        }

        if (member.MemberEpoch != AssignmentEpoch)
        {
            member.PreviousMemberEpoch = member.MemberEpoch;
            member.MemberEpoch = AssignmentEpoch;
        }

        var unreleased = _members.Values.Where(m => m != member).SelectMany(m => m.Assigned.Concat(m.PendingRevocation)).ToHashSet();
        var grant = target.Where(tp => !member.Assigned.Contains(tp) && !unreleased.Contains(tp)).ToList();
        if (grant.Count > 0)
        {
            member.Assigned.UnionWith(grant);
            member.AssignmentVersion++;
        }
    }

    private bool IsReconciled(ConsumerGroupMember member) =>
        member.MemberEpoch == AssignmentEpoch && member.PendingRevocation.Count == 0 && member.Assigned.SetEquals(TargetOf(member.MemberId));

    private HashSet<(Guid TopicId, int Partition)> TargetOf(string memberId) => _target.GetValueOrDefault(memberId) ?? [];

    private Dictionary<Guid, int> SubscribedPartitionCounts()
    {
        var counts = new Dictionary<Guid, int>();
        foreach (var name in _members.Values.SelectMany(SubscribedTopics).Distinct(StringComparer.Ordinal))
        {
            if (_coordinator.Metadata.Find(name) is { } topic)
            {
                counts[topic.Id] = topic.PartitionCount;
            }
        }

        return counts;
    }

    /// <summary>The topics a member subscribes to: its topic names and the topics its regex matches now.</summary>
    private IEnumerable<string> SubscribedTopics(ConsumerGroupMember member) =>
        member.SubscribedTopicRegex.Length == 0 ? member.SubscribedTopicNames : member.SubscribedTopicNames.Union(ResolveRegex(member.SubscribedTopicRegex), StringComparer.Ordinal);

    private HashSet<string> ResolveRegex(string pattern)
    {
        var metadata = _coordinator.Metadata;
        var version = metadata.TopicsVersion;
        if (_resolvedRegexes.TryGetValue(pattern, out var resolved) && resolved.TopicsVersion == version)
        {
            return resolved.Topics;
        }

        // Regexes no member uses any more are dropped here, so the table holds at most one entry per member.
        foreach (var unused in _resolvedRegexes.Keys.Where(r => !_members.Values.Any(m => m.SubscribedTopicRegex == r)).ToList())
        {
            _resolvedRegexes.Remove(unused);
        }

        // The heartbeat validated the pattern, so it compiles (from TopicRegex's cache, usually).
        var regex = TopicRegex.TryCreate(pattern, out _);
        var topics = regex is null ? [] : metadata.Topics.Where(regex.Matches).Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        _resolvedRegexes[pattern] = (version, topics);
        return topics;
    }

    private static bool SameCounts(Dictionary<Guid, int> a, Dictionary<Guid, int> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var count) && count == kv.Value);

    private static List<(Guid TopicId, int[] Partitions)> Group(HashSet<(Guid TopicId, int Partition)> partitions) =>
        [.. partitions.GroupBy(tp => tp.TopicId).OrderBy(g => g.Key).Select(g => (g.Key, g.Select(tp => tp.Partition).Order().ToArray()))];

    private void Reschedule()
    {
        var dueMs = _members.Count == 0 ? long.MaxValue : _members.Values.Min(m => Math.Min(m.SessionDeadlineMs, m.RevocationDeadlineMs));
        if (dueMs == long.MaxValue)
        {
            _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }

        var due = TimeSpan.FromMilliseconds(Math.Max(0, dueMs - _coordinator.Time.GetUtcNow().ToUnixTimeMilliseconds()));
        if (_timer is null)
        {
            _timer = _coordinator.Time.CreateTimer(static state => ((ConsumerGroup)state!).RunTimer(), this, due, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _timer.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    private void RunTimer()
    {
        lock (Lock)
        {
            _coordinator.RunTimer(this);
        }
    }
}
