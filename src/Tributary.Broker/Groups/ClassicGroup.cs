using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Groups;

/// <summary>
/// One classic (JoinGroup/SyncGroup) group: its members, generation, selected protocol and committed offsets.
/// Every method must be called under <see cref="Lock"/>; parked JoinGroup and SyncGroup requests are
/// <see cref="TaskCompletionSource{TResult}"/>s completed under the lock with continuations run asynchronously.
///
/// The state machine is Kafka's: Empty → PreparingRebalance (a member joins, leaves, changes its metadata or
/// expires) → CompletingRebalance (every known member rejoined, or the rebalance timeout passed and dynamic
/// members that did not rejoin were removed) → Stable (the leader's SyncGroup assignment was distributed).
/// A group with no members left goes back to Empty; a deleted or fully expired group is Dead.
///
/// One timer per group fires at the earliest deadline among: member sessions, KIP-394 pending member ids,
/// the rebalance (join) deadline and the deadline for members to send SyncGroup after a rebalance.
///
/// The first rebalance of an Empty group waits <c>group.initial.rebalance.delay.ms</c> (Kafka's InitialDelayedJoin),
/// so a group whose consumers start together forms once instead of rebalancing as each arrives: the join phase ends
/// when a whole delay passes with no new member, or once the largest rebalance timeout (as of the first join) has
/// passed, whichever is first, and never before one delay. It does not end early when every member is in.
/// </summary>
internal sealed class ClassicGroup(string groupId, GroupCoordinator owner)
{
    /// <summary>Member ids handed out with MEMBER_ID_REQUIRED and not yet used; each expires after its session timeout.</summary>
    public const int PendingMembersMax = 10_000;

    private readonly Dictionary<string, GroupMember> _members = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _staticMembers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _pendingMembers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _pendingSync = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Topic, int Partition), CommittedOffset> _offsets = [];
    private long _joinDeadlineMs;
    private long _syncDeadlineMs;

    // The initial delayed join (see the class comment): _joinDeadlineMs is the end of the current delay window.
    private bool _initialDelay;
    private bool _newMemberAdded;
    private int _initialDelayWindowMs;
    private int _initialDelayRemainingMs;
    private ITimer? _timer;

    public Lock Lock { get; } = new();

    public string GroupId { get; } = groupId;

    public GroupState State { get; private set; } = GroupState.Empty;

    /// <summary>When the group entered its current state: offsets of an Empty group expire relative to it.</summary>
    public long StateTimestampMs { get; private set; }

    public int Generation { get; private set; }

    /// <summary>"" for a group only used for offset commits (no member ever joined).</summary>
    public string ProtocolType { get; private set; } = "";

    public string? ProtocolName { get; private set; }

    public string? LeaderId { get; private set; }

    /// <summary>Whether __consumer_offsets holds a live group metadata record for this group.</summary>
    public bool HasMetadataRecord { get; private set; }

    public int MemberCount => _members.Count;

    public bool HasOffsets => _offsets.Count > 0;

    public IReadOnlyDictionary<(string Topic, int Partition), CommittedOffset> Offsets => _offsets;

    // ---- JoinGroup ----

    public Task<JoinGroupResult> Join(JoinGroupParameters p, long nowMs)
    {
        if (State == GroupState.Dead)
        {
            return Done(JoinGroupResult.Failed(ErrorCode.CoordinatorNotAvailable, p.MemberId));
        }

        if (!SupportsProtocols(p.ProtocolType, p.Protocols))
        {
            return Done(JoinGroupResult.Failed(ErrorCode.InconsistentGroupProtocol, p.MemberId));
        }

        if (!AcceptsJoiningMember(p))
        {
            return Done(JoinGroupResult.Failed(ErrorCode.GroupMaxSizeReached, p.MemberId));
        }

        var result = p.MemberId.Length == 0 ? JoinNewMember(p, nowMs) : JoinKnownMember(p, nowMs);
        Reschedule(nowMs);
        return result;
    }

    private Task<JoinGroupResult> JoinNewMember(JoinGroupParameters p, long nowMs)
    {
        if (p.GroupInstanceId is { } instanceId)
        {
            // KIP-345: a static member gets its id at once (no MEMBER_ID_REQUIRED round trip); a known instance id
            // replaces the member that had it, fencing the old member id.
            var staticId = instanceId + "-" + Guid.NewGuid();
            return _staticMembers.TryGetValue(instanceId, out var oldId)
                ? ReplaceStaticMember(oldId, staticId, p, nowMs)
                : AddMemberAndRebalance(staticId, p, nowMs);
        }

        var memberId = p.ClientId + "-" + Guid.NewGuid();
        if (p.RequireKnownMemberId)
        {
            // KIP-394: v4+ members must come back with the id we hand out, so a client that times out on its first
            // JoinGroup does not leave an orphan member behind.
            if (_pendingMembers.Count >= PendingMembersMax)
            {
                return Done(JoinGroupResult.Failed(ErrorCode.GroupMaxSizeReached));
            }

            _pendingMembers[memberId] = nowMs + p.SessionTimeoutMs;
            return Done(JoinGroupResult.Failed(ErrorCode.MemberIdRequired, memberId));
        }

        return AddMemberAndRebalance(memberId, p, nowMs);
    }

    private Task<JoinGroupResult> JoinKnownMember(JoinGroupParameters p, long nowMs)
    {
        // Pending member ids are only handed to dynamic members (a static member gets its id at once).
        if (p.GroupInstanceId is null && _pendingMembers.Remove(p.MemberId))
        {
            return AddMemberAndRebalance(p.MemberId, p, nowMs);
        }

        if (ValidateMember(p.MemberId, p.GroupInstanceId) is var error and not ErrorCode.None)
        {
            return Done(JoinGroupResult.Failed(error, p.MemberId));
        }

        var member = _members[p.MemberId];
        switch (State)
        {
            case GroupState.PreparingRebalance:
                return UpdateMemberAndRebalance(member, p, nowMs);
            case GroupState.CompletingRebalance when member.Matches(p.Protocols):
                // A retried JoinGroup (its response was lost): answer with the generation it already belongs to.
                member.SessionDeadlineMs = nowMs + member.SessionTimeoutMs;
                return Done(CurrentJoinResult(member));
            case GroupState.Stable when member.MemberId != LeaderId && member.Matches(p.Protocols):
                // Kafka's rule: a follower rejoining with unchanged metadata gets the current generation without a
                // rebalance. A changed subscription (e.g. cooperative-sticky's owned partitions after a revocation)
                // or a rejoining leader starts a new rebalance.
                member.SessionDeadlineMs = nowMs + member.SessionTimeoutMs;
                return Done(CurrentJoinResult(member));
            case GroupState.CompletingRebalance or GroupState.Stable:
                return UpdateMemberAndRebalance(member, p, nowMs);
            default:
                return Done(JoinGroupResult.Failed(ErrorCode.UnknownMemberId, p.MemberId));
        }
    }

    private Task<JoinGroupResult> AddMemberAndRebalance(string memberId, JoinGroupParameters p, long nowMs)
    {
        if (_members.Count == 0)
        {
            ProtocolType = p.ProtocolType;
        }

        if (_initialDelay)
        {
            // A member arriving during the initial delay extends it (Kafka's newMemberAdded).
            _newMemberAdded = true;
        }

        var member = new GroupMember(memberId, p.GroupInstanceId);
        Update(member, p);
        var waiter = NewJoinWaiter();
        member.JoinWaiter = waiter;
        _members[memberId] = member;
        if (p.GroupInstanceId is { } instanceId)
        {
            _staticMembers[instanceId] = memberId;
        }

        LeaderId ??= memberId;
        MaybePrepareRebalance(nowMs);
        TryCompleteJoin(nowMs);
        return waiter.Task;
    }

    private Task<JoinGroupResult> UpdateMemberAndRebalance(GroupMember member, JoinGroupParameters p, long nowMs)
    {
        Update(member, p);
        member.CompleteJoin(JoinGroupResult.Failed(ErrorCode.RebalanceInProgress, member.MemberId));
        var waiter = NewJoinWaiter();
        member.JoinWaiter = waiter;
        MaybePrepareRebalance(nowMs);
        TryCompleteJoin(nowMs);
        return waiter.Task;
    }

    private Task<JoinGroupResult> ReplaceStaticMember(string oldId, string newId, JoinGroupParameters p, long nowMs)
    {
        var oldLeaderId = LeaderId;
        var member = _members[oldId];
        member.CompleteJoin(JoinGroupResult.Failed(ErrorCode.FencedInstanceId, oldId));
        member.CompleteSync(SyncGroupResult.Failed(ErrorCode.FencedInstanceId));
        _members.Remove(oldId);
        member.MemberId = newId;
        _members[newId] = member;
        _staticMembers[member.GroupInstanceId!] = newId;
        if (LeaderId == oldId)
        {
            LeaderId = newId;
        }

        if (_pendingSync.Remove(oldId))
        {
            _pendingSync.Add(newId);
        }

        if (State == GroupState.Stable)
        {
            Update(member, p);

            // KIP-345, as Kafka's updateStaticMemberAndRebalance: a restarted static member that does not change the
            // group's protocol choice gets the current generation and keeps its assignment, and nobody rebalances.
            // As in Kafka, only the protocol choice counts here, not the member's metadata.
            if (SelectProtocol() == ProtocolName)
            {
                member.SessionDeadlineMs = nowMs + member.SessionTimeoutMs;
                owner.PersistGroup(this);
                return Done(StaticRejoinResult(newId, oldLeaderId, p.SupportsSkipAssignment));
            }
        }

        // In CompletingRebalance the leader may already be assigning to the old member id: rebalance again. While
        // PreparingRebalance the member simply joins the rebalance under its new id.
        return UpdateMemberAndRebalance(member, p, nowMs);
    }

    /// <summary>
    /// The answer to a static member that took its place back in a Stable group. From JoinGroup v9 (KIP-814) a leader
    /// is told it leads, with the members' metadata, and to skip the assignment. An older client cannot be told to
    /// skip, and a leader's new assignment would be ignored by the Stable group, so it is given the previous leader
    /// id: it takes itself for a follower and just fetches its assignment with SyncGroup.
    /// </summary>
    private JoinGroupResult StaticRejoinResult(string memberId, string? oldLeaderId, bool supportsSkipAssignment)
    {
        var isLeader = memberId == LeaderId && supportsSkipAssignment;
        var leader = supportsSkipAssignment ? LeaderId : oldLeaderId;
        return new JoinGroupResult(ErrorCode.None, memberId, Generation, ProtocolType, ProtocolName, leader ?? "", isLeader, isLeader ? MemberMetadata() : []);
    }

    private static void Update(GroupMember member, JoinGroupParameters p)
    {
        member.ClientId = p.ClientId;
        member.ClientHost = p.ClientHost;
        member.SessionTimeoutMs = p.SessionTimeoutMs;

        // JoinGroup v0 has no rebalance timeout: the session timeout served as both.
        member.RebalanceTimeoutMs = p.RebalanceTimeoutMs < 0 ? p.SessionTimeoutMs : p.RebalanceTimeoutMs;
        member.Protocols = p.Protocols;
        member.SupportsSkipAssignment = p.SupportsSkipAssignment;
    }

    /// <summary>
    /// Kafka's group.max.size rule: new members are refused once the group is full; existing members are always
    /// accepted (while rebalancing, only those already rejoined count towards the limit).
    /// </summary>
    private bool AcceptsJoiningMember(JoinGroupParameters p)
    {
        if (p.GroupInstanceId is { } instanceId && _staticMembers.ContainsKey(instanceId))
        {
            return true;
        }

        var max = owner.GroupMaxSize;
        return State switch
        {
            GroupState.Empty or GroupState.Dead => true,
            GroupState.PreparingRebalance => (_members.TryGetValue(p.MemberId, out var m) && m.AwaitingJoin) || _members.Values.Count(x => x.AwaitingJoin) < max,
            _ => _members.ContainsKey(p.MemberId) || _members.Count < max,
        };
    }

    /// <summary>An empty group takes any protocol type; otherwise the type must match and one protocol must be supported by every member.</summary>
    private bool SupportsProtocols(string protocolType, IReadOnlyList<(string Name, byte[] Metadata)> protocols)
    {
        if (protocolType.Length == 0 || protocols.Count == 0)
        {
            return false;
        }

        if (_members.Count == 0)
        {
            return true;
        }

        return protocolType == ProtocolType && protocols.Any(p => _members.Values.All(m => m.Supports(p.Name)));
    }

    /// <summary>
    /// The checks Heartbeat, SyncGroup and a member's commits share: the member (<see cref="ValidateMember"/>), then
    /// the generation. <paramref name="member"/> is set unless the member is fenced or unknown.
    /// </summary>
    private ErrorCode CheckMember(string memberId, int generationId, string? instanceId, out GroupMember member)
    {
        member = null!;
        if (ValidateMember(memberId, instanceId) is var error and not ErrorCode.None)
        {
            return error;
        }

        member = _members[memberId];
        return generationId != Generation ? ErrorCode.IllegalGeneration : ErrorCode.None;
    }

    /// <summary>
    /// Kafka's validateMember: a request with an instance id names a static member, UNKNOWN_MEMBER_ID when no member
    /// has that instance id and FENCED_INSTANCE_ID when another member id holds it (a newer process of the same
    /// instance replaced this one); without an instance id the member id must be known.
    /// </summary>
    private ErrorCode ValidateMember(string memberId, string? instanceId)
    {
        if (instanceId is not null)
        {
            return !_staticMembers.TryGetValue(instanceId, out var current) ? ErrorCode.UnknownMemberId
                : current != memberId ? ErrorCode.FencedInstanceId
                : ErrorCode.None;
        }

        return _members.ContainsKey(memberId) ? ErrorCode.None : ErrorCode.UnknownMemberId;
    }

    private void MaybePrepareRebalance(long nowMs)
    {
        if (State is GroupState.Empty or GroupState.Stable or GroupState.CompletingRebalance)
        {
            PrepareRebalance(nowMs);
        }
    }

    private void PrepareRebalance(long nowMs)
    {
        if (State == GroupState.CompletingRebalance)
        {
            foreach (var member in _members.Values)
            {
                member.Assignment = [];
                member.CompleteSync(SyncGroupResult.Failed(ErrorCode.RebalanceInProgress));
            }
        }

        _pendingSync.Clear();
        var delayMs = owner.InitialRebalanceDelayMs;
        _initialDelay = State == GroupState.Empty && delayMs > 0;
        _newMemberAdded = false;
        SetState(GroupState.PreparingRebalance, nowMs);
        if (_initialDelay)
        {
            _initialDelayWindowMs = delayMs;
            _initialDelayRemainingMs = Math.Max(RebalanceTimeoutMs() - delayMs, 0);
            _joinDeadlineMs = nowMs + delayMs;
        }
        else
        {
            _joinDeadlineMs = nowMs + RebalanceTimeoutMs();
        }
    }

    /// <summary>
    /// The end of an initial delay window: another window (the delay, cut to what is left of the rebalance timeout)
    /// when a member arrived during this one, otherwise the join phase completes. Kafka's arithmetic: the join phase
    /// lasts at most the longer of one delay and the rebalance timeout.
    /// </summary>
    private void OnInitialDelayElapsed(long nowMs)
    {
        if (_newMemberAdded && _initialDelayRemainingMs != 0)
        {
            _newMemberAdded = false;
            var windowMs = Math.Min(owner.InitialRebalanceDelayMs, _initialDelayRemainingMs);
            _initialDelayRemainingMs = Math.Max(_initialDelayRemainingMs - _initialDelayWindowMs, 0);
            _initialDelayWindowMs = windowMs;
            _joinDeadlineMs = nowMs + windowMs;
            return;
        }

        CompleteJoin(nowMs);
    }

    /// <summary>The rebalance completes once every member rejoined and no KIP-394 pending member is still on its way.</summary>
    private void TryCompleteJoin(long nowMs)
    {
        if (State != GroupState.PreparingRebalance || _initialDelay || _pendingMembers.Count > 0 || _members.Values.Any(m => !m.AwaitingJoin))
        {
            return;
        }

        CompleteJoin(nowMs);
    }

    private void CompleteJoin(long nowMs)
    {
        _initialDelay = false;
        // Dynamic members that did not rejoin in time are gone; static members keep their place until their
        // session expires (KIP-345), so a restarting static member does not cause a second rebalance.
        foreach (var member in _members.Values.Where(m => !m.AwaitingJoin && m.GroupInstanceId is null).ToList())
        {
            RemoveMember(member);
        }

        Generation++;
        if (_members.Count == 0)
        {
            ProtocolName = null;
            LeaderId = null;
            SetState(GroupState.Empty, nowMs);
            owner.PersistGroup(this);
            return;
        }

        if (LeaderId is null || !_members.TryGetValue(LeaderId, out var leader) || !leader.AwaitingJoin)
        {
            // A leader that did not rejoin could not run the assignment: pick one that did.
            LeaderId = _members.Values.FirstOrDefault(m => m.AwaitingJoin)?.MemberId ?? _members.Keys.First();
        }

        ProtocolName = SelectProtocol();
        SetState(GroupState.CompletingRebalance, nowMs);
        _pendingSync.UnionWith(_members.Keys);
        _syncDeadlineMs = nowMs + RebalanceTimeoutMs();
        var metadata = MemberMetadata();
        foreach (var member in _members.Values)
        {
            if (member.AwaitingJoin)
            {
                member.SessionDeadlineMs = nowMs + member.SessionTimeoutMs;
                member.CompleteJoin(new JoinGroupResult(
                    ErrorCode.None, member.MemberId, Generation, ProtocolType, ProtocolName, LeaderId, false, member.MemberId == LeaderId ? metadata : []));
            }
        }
    }

    /// <summary>
    /// The protocol every member supports that most members list first among those (Kafka's vote); a tie goes to
    /// the leader's preference.
    /// </summary>
    private string? SelectProtocol()
    {
        if (_members.Count == 0)
        {
            return null;
        }

        var leader = LeaderId is not null && _members.TryGetValue(LeaderId, out var l) ? l : _members.Values.First();
        var candidates = leader.Protocols.Select(p => p.Name).Where(name => _members.Values.All(m => m.Supports(name))).ToList();
        if (candidates.Count == 0)
        {
            return null;
        }

        var votes = candidates.ToDictionary(c => c, _ => 0, StringComparer.Ordinal);
        foreach (var member in _members.Values)
        {
            var choice = member.Protocols.First(p => votes.ContainsKey(p.Name)).Name;
            votes[choice]++;
        }

        var best = votes.Values.Max();
        return candidates.First(c => votes[c] == best);
    }

    private JoinGroupResult CurrentJoinResult(GroupMember member) => new(
        ErrorCode.None, member.MemberId, Generation, ProtocolType, ProtocolName, LeaderId ?? "", false, member.MemberId == LeaderId ? MemberMetadata() : []);

    private List<GroupMemberMetadata> MemberMetadata() =>
        [.. _members.Values.Select(m => new GroupMemberMetadata(m.MemberId, m.GroupInstanceId, m.MetadataFor(ProtocolName)))];

    // ---- SyncGroup ----

    public Task<SyncGroupResult> Sync(SyncGroupParameters p, long nowMs)
    {
        if (State == GroupState.Dead)
        {
            return Done(SyncGroupResult.Failed(ErrorCode.CoordinatorNotAvailable));
        }

        if (CheckMember(p.MemberId, p.GenerationId, p.GroupInstanceId, out var member) is var error and not ErrorCode.None)
        {
            return Done(SyncGroupResult.Failed(error));
        }

        if ((p.ProtocolType is { } type && type != ProtocolType) || (p.ProtocolName is { } name && name != ProtocolName))
        {
            return Done(SyncGroupResult.Failed(ErrorCode.InconsistentGroupProtocol));
        }

        switch (State)
        {
            case GroupState.PreparingRebalance:
                return Done(SyncGroupResult.Failed(ErrorCode.RebalanceInProgress));
            case GroupState.CompletingRebalance:
                {
                    _pendingSync.Remove(member.MemberId);
                    member.SessionDeadlineMs = nowMs + member.SessionTimeoutMs;
                    member.CompleteSync(SyncGroupResult.Failed(ErrorCode.RebalanceInProgress));
                    var waiter = new TaskCompletionSource<SyncGroupResult>(TaskCreationOptions.RunContinuationsAsynchronously);
                    member.SyncWaiter = waiter;
                    if (member.MemberId == LeaderId)
                    {
                        // Members the leader left out get an empty assignment, as in Kafka.
                        foreach (var m in _members.Values)
                        {
                            m.Assignment = p.Assignments.GetValueOrDefault(m.MemberId) ?? [];
                        }

                        SetState(GroupState.Stable, nowMs);
                        owner.PersistGroup(this);
                        foreach (var m in _members.Values)
                        {
                            m.CompleteSync(new SyncGroupResult(ErrorCode.None, ProtocolType, ProtocolName, m.Assignment));
                        }
                    }

                    Reschedule(nowMs);
                    return waiter.Task;
                }

            case GroupState.Stable:
                _pendingSync.Remove(member.MemberId);
                member.SessionDeadlineMs = nowMs + member.SessionTimeoutMs;
                Reschedule(nowMs);
                return Done(new SyncGroupResult(ErrorCode.None, ProtocolType, ProtocolName, member.Assignment));
            default:
                return Done(SyncGroupResult.Failed(ErrorCode.UnknownMemberId));
        }
    }

    // ---- Heartbeat, LeaveGroup ----

    public ErrorCode Heartbeat(string memberId, int generationId, string? instanceId, long nowMs)
    {
        if (State == GroupState.Dead)
        {
            return ErrorCode.CoordinatorNotAvailable;
        }

        if (CheckMember(memberId, generationId, instanceId, out var member) is var error and not ErrorCode.None)
        {
            return error;
        }

        member.SessionDeadlineMs = nowMs + member.SessionTimeoutMs;
        Reschedule(nowMs);

        // During CompletingRebalance the member already has its JoinGroup answer and may heartbeat before syncing.
        return State switch
        {
            GroupState.PreparingRebalance => ErrorCode.RebalanceInProgress,
            GroupState.CompletingRebalance or GroupState.Stable => ErrorCode.None,
            _ => ErrorCode.UnknownMemberId,
        };
    }

    /// <summary>LeaveGroup for each (member id, instance id); a static member may be named by its instance id alone (KIP-345).</summary>
    public ErrorCode[] Leave(IReadOnlyList<(string MemberId, string? GroupInstanceId)> leaving, long nowMs)
    {
        var results = new ErrorCode[leaving.Count];
        for (var i = 0; i < leaving.Count; i++)
        {
            var (memberId, instanceId) = leaving[i];
            if (State == GroupState.Dead)
            {
                results[i] = ErrorCode.CoordinatorNotAvailable;
            }
            else if (instanceId is not null)
            {
                if (!_staticMembers.TryGetValue(instanceId, out var current))
                {
                    results[i] = ErrorCode.UnknownMemberId;
                }
                else if (memberId.Length > 0 && memberId != current)
                {
                    results[i] = ErrorCode.FencedInstanceId;
                }
                else
                {
                    RemoveMemberAndUpdateGroup(_members[current], nowMs);
                }
            }
            else if (_pendingMembers.Remove(memberId))
            {
                TryCompleteJoin(nowMs);
            }
            else if (_members.TryGetValue(memberId, out var member))
            {
                RemoveMemberAndUpdateGroup(member, nowMs);
            }
            else
            {
                results[i] = ErrorCode.UnknownMemberId;
            }
        }

        Reschedule(nowMs);
        return results;
    }

    private void RemoveMemberAndUpdateGroup(GroupMember member, long nowMs)
    {
        RemoveMember(member);
        if (State is GroupState.Stable or GroupState.CompletingRebalance)
        {
            PrepareRebalance(nowMs);
        }

        TryCompleteJoin(nowMs);
    }

    private void RemoveMember(GroupMember member)
    {
        member.CompleteJoin(JoinGroupResult.Failed(ErrorCode.UnknownMemberId, member.MemberId));
        member.CompleteSync(SyncGroupResult.Failed(ErrorCode.UnknownMemberId));
        _members.Remove(member.MemberId);
        if (member.GroupInstanceId is { } instanceId)
        {
            _staticMembers.Remove(instanceId);
        }

        _pendingSync.Remove(member.MemberId);
        if (LeaderId == member.MemberId)
        {
            LeaderId = _members.Keys.FirstOrDefault();
        }
    }

    // ---- Offsets ----

    /// <summary>
    /// Kafka's classic commit validation (ClassicGroup.validateOffsetCommit) for OffsetCommit and, with
    /// <paramref name="transactional"/>, TxnOffsetCommit. Generation -1 (the admin client, or a consumer that assigns
    /// its partitions itself) may commit to an Empty group whatever member id it names. Otherwise a commit naming a
    /// member, instance or generation must come from a current member of the current generation; an anonymous
    /// OffsetCommit is refused while the group has members, an anonymous TxnOffsetCommit (v0-2 carry no member) is
    /// not. A member's OffsetCommit waits for its assignment (REBALANCE_IN_PROGRESS in CompletingRebalance) and, in
    /// Stable or PreparingRebalance, counts as a heartbeat; a TxnOffsetCommit does neither, as in Kafka.
    /// </summary>
    public ErrorCode ValidateCommit(int generationId, string memberId, string? instanceId, bool transactional, long nowMs)
    {
        if (State == GroupState.Dead)
        {
            return ErrorCode.CoordinatorNotAvailable;
        }

        if (generationId < 0 && State == GroupState.Empty)
        {
            return ErrorCode.None;
        }

        GroupMember? member = null;
        if (generationId >= 0 || memberId.Length > 0 || instanceId is not null)
        {
            if (CheckMember(memberId, generationId, instanceId, out member) is var error and not ErrorCode.None)
            {
                return error;
            }
        }
        else if (!transactional)
        {
            return ErrorCode.UnknownMemberId;
        }

        if (transactional)
        {
            return ErrorCode.None;
        }

        if (State == GroupState.CompletingRebalance)
        {
            // The member has its new generation but not yet its assignment: committing now could commit for
            // partitions it is about to lose.
            return ErrorCode.RebalanceInProgress;
        }

        member!.SessionDeadlineMs = nowMs + member.SessionTimeoutMs;
        Reschedule(nowMs);
        return ErrorCode.None;
    }

    public void SetOffset((string Topic, int Partition) partition, CommittedOffset? offset)
    {
        if (offset is { } o)
        {
            _offsets[partition] = o;
        }
        else
        {
            _offsets.Remove(partition);
        }
    }

    /// <summary>
    /// Offsets that expired (KIP-211): only an Empty group's offsets expire, <paramref name="retentionMs"/> after the
    /// later of the commit and the moment the group became empty.
    /// </summary>
    public List<(string Topic, int Partition)> ExpiredOffsets(long nowMs, long retentionMs)
    {
        if (State != GroupState.Empty)
        {
            return [];
        }

        return [.. _offsets.Where(o => nowMs - Math.Max(o.Value.CommitTimestampMs, StateTimestampMs) >= retentionMs).Select(o => o.Key)];
    }

    /// <summary>Topics the members subscribe to, decoded from their consumer-protocol metadata; null when unknown.</summary>
    public HashSet<string>? SubscribedTopics()
    {
        if (ProtocolType != "consumer" || _members.Count == 0)
        {
            return null;
        }

        var topics = new HashSet<string>(StringComparer.Ordinal);
        foreach (var member in _members.Values)
        {
            var metadata = member.MetadataFor(ProtocolName);
            try
            {
                var reader = new KafkaReader(metadata);
                var version = reader.ReadInt16();
                var subscription = ConsumerProtocolSubscription.Read(ref reader, Math.Min(version, ConsumerProtocolSubscription.HighestSupportedVersion));
                topics.UnionWith(subscription.Topics);
            }
            catch (ProtocolException)
            {
                return null;
            }
        }

        return topics;
    }

    // ---- Describe, delete, persistence ----

    public GroupDescription Describe()
    {
        var stable = State == GroupState.Stable;
        return new GroupDescription(
            GroupId,
            State,
            ProtocolType,
            stable ? ProtocolName ?? "" : "",
            [.. _members.Values.Select(m => new GroupMemberDescription(m.MemberId, m.GroupInstanceId, m.ClientId, m.ClientHost, stable ? m.MetadataFor(ProtocolName) : [], stable ? m.Assignment : []))]);
    }

    public void MarkDead()
    {
        foreach (var member in _members.Values.ToList())
        {
            RemoveMember(member);
        }

        _pendingMembers.Clear();
        _offsets.Clear();
        _initialDelay = false;
        State = GroupState.Dead;
        HasMetadataRecord = false;
        _timer?.Dispose();
        _timer = null;
    }

    public OffsetsTopicFormat.GroupSnapshot Snapshot() => new(
        ProtocolType,
        Generation,
        ProtocolName,
        LeaderId,
        StateTimestampMs,
        [.. _members.Values.Select(m => new OffsetsTopicFormat.MemberSnapshot(
            m.MemberId, m.GroupInstanceId, m.ClientId, m.ClientHost, m.RebalanceTimeoutMs, m.SessionTimeoutMs, m.MetadataFor(ProtocolName), m.Assignment))]);

    public void MarkPersisted() => HasMetadataRecord = true;

    /// <summary>
    /// Restores the group from its last metadata record. Members come back Stable with their assignments and a
    /// fresh session: they keep the group if they heartbeat within it, as after a Kafka coordinator failover.
    /// </summary>
    public void Restore(OffsetsTopicFormat.GroupSnapshot? snapshot, long nowMs)
    {
        _members.Clear();
        _staticMembers.Clear();
        if (snapshot is null)
        {
            ProtocolType = "";
            Generation = 0;
            ProtocolName = null;
            LeaderId = null;
            HasMetadataRecord = false;
            SetState(GroupState.Empty, nowMs);
            return;
        }

        ProtocolType = snapshot.ProtocolType;
        Generation = snapshot.Generation;
        ProtocolName = snapshot.ProtocolName;
        LeaderId = snapshot.Leader;
        HasMetadataRecord = true;
        foreach (var m in snapshot.Members)
        {
            var member = new GroupMember(m.MemberId, m.GroupInstanceId)
            {
                ClientId = m.ClientId,
                ClientHost = m.ClientHost,
                RebalanceTimeoutMs = m.RebalanceTimeoutMs,
                SessionTimeoutMs = m.SessionTimeoutMs,
                Protocols = [(snapshot.ProtocolName ?? "", m.Subscription)],
                Assignment = m.Assignment,
                SessionDeadlineMs = nowMs + m.SessionTimeoutMs,
            };
            _members[m.MemberId] = member;
            if (m.GroupInstanceId is { } instanceId)
            {
                _staticMembers[instanceId] = m.MemberId;
            }
        }

        State = _members.Count > 0 ? GroupState.Stable : GroupState.Empty;
        StateTimestampMs = snapshot.StateTimestampMs;
    }

    // ---- Timer ----

    /// <summary>Expires sessions, pending member ids, the rebalance and the SyncGroup deadline that are due.</summary>
    public void OnTimer(long nowMs)
    {
        if (State == GroupState.Dead)
        {
            return;
        }

        foreach (var (id, deadline) in _pendingMembers.ToList())
        {
            if (deadline <= nowMs)
            {
                _pendingMembers.Remove(id);
            }
        }

        TryCompleteJoin(nowMs);
        foreach (var member in _members.Values.ToList())
        {
            // Members parked in JoinGroup or SyncGroup are covered by the rebalance and sync deadlines instead.
            if (!member.AwaitingJoin && member.SyncWaiter is null && member.SessionDeadlineMs <= nowMs && _members.ContainsKey(member.MemberId))
            {
                owner.OnMemberExpired(GroupId, member.MemberId);
                RemoveMemberAndUpdateGroup(member, nowMs);
            }
        }

        if (State == GroupState.PreparingRebalance && nowMs >= _joinDeadlineMs)
        {
            if (_initialDelay)
            {
                OnInitialDelayElapsed(nowMs);
            }
            else
            {
                CompleteJoin(nowMs);
            }
        }

        if (State is GroupState.CompletingRebalance or GroupState.Stable && _pendingSync.Count > 0 && nowMs >= _syncDeadlineMs)
        {
            // Members that got their JoinGroup answer but never sent SyncGroup hold the group up: drop them.
            foreach (var id in _pendingSync.ToList())
            {
                if (_members.TryGetValue(id, out var member))
                {
                    owner.OnMemberExpired(GroupId, id);
                    RemoveMemberAndUpdateGroup(member, nowMs);
                }
            }

            // Every id in it was just removed; clearing also guarantees the deadline cannot fire again.
            _pendingSync.Clear();
        }

        Reschedule(nowMs);
    }

    /// <summary>Arms the group's timer for its earliest deadline (or disarms it).</summary>
    public void Reschedule(long nowMs)
    {
        var next = long.MaxValue;
        foreach (var deadline in _pendingMembers.Values)
        {
            next = Math.Min(next, deadline);
        }

        foreach (var member in _members.Values)
        {
            if (!member.AwaitingJoin && member.SyncWaiter is null)
            {
                next = Math.Min(next, member.SessionDeadlineMs);
            }
        }

        if (State == GroupState.PreparingRebalance)
        {
            next = Math.Min(next, _joinDeadlineMs);
        }

        if (State is GroupState.CompletingRebalance or GroupState.Stable && _pendingSync.Count > 0)
        {
            next = Math.Min(next, _syncDeadlineMs);
        }

        if (next == long.MaxValue)
        {
            _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }

        _timer ??= owner.Time.CreateTimer(static state => ((ClassicGroup)state!).OnTimerCallback(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _timer.Change(TimeSpan.FromMilliseconds(Math.Max(0, next - nowMs)), Timeout.InfiniteTimeSpan);
    }

    private void OnTimerCallback()
    {
        lock (Lock)
        {
            owner.RunTimer(this);
        }
    }

    private int RebalanceTimeoutMs() => _members.Count == 0 ? 0 : _members.Values.Max(m => m.RebalanceTimeoutMs);

    private void SetState(GroupState state, long nowMs)
    {
        State = state;
        StateTimestampMs = nowMs;
    }

    private static TaskCompletionSource<JoinGroupResult> NewJoinWaiter() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static Task<T> Done<T>(T result) => Task.FromResult(result);
}
