using Microsoft.Extensions.Logging;
using Tributary.Broker.ShareGroups;
using Tributary.Protocol;

namespace Tributary.Broker.Groups;

/// <summary>
/// The group coordinator of this node, which coordinates the groups of the partitions of <c>__consumer_offsets</c> it
/// leads (a group's partition is <see cref="CoordinatorPartitionFor"/>; a single node leads them all, see
/// GroupCoordinator.Leadership.cs).
/// Classic groups only (JoinGroup/SyncGroup/Heartbeat/LeaveGroup); see <see cref="ClassicGroup"/> for the state
/// machine. Group metadata and committed offsets are appended to <c>__consumer_offsets</c> and reloaded from it
/// when the broker starts (<see cref="OffsetsTopicFormat"/>); offsets of empty groups expire after
/// <c>offsets.retention.minutes</c>, checked every <see cref="OffsetsRetentionCheckIntervalMs"/>.
///
/// Locking: a dictionary lock guards the group table only; each group has its own lock, taken after (never while
/// holding) the dictionary lock, except when removing a dead group. A request that finds its group Dead (deleted
/// between lookup and lock) looks it up again.
/// </summary>
public sealed partial class GroupCoordinator : IDisposable
{
    /// <summary>Groups this coordinator holds at most; a JoinGroup or commit that would create one more gets COORDINATOR_NOT_AVAILABLE.</summary>
    public const int GroupsMax = 100_000;

    /// <summary>Kafka's offset.metadata.max.bytes default: longer commit metadata gets OFFSET_METADATA_TOO_LARGE.</summary>
    public const int CommitMetadataBytesMax = 4096;

    /// <summary>Kafka's offsets.retention.check.interval.ms default.</summary>
    public const long OffsetsRetentionCheckIntervalMs = 600_000;

    private readonly BrokerCore _broker;
    private readonly OffsetsTopicStore _store;
    private readonly ILogger _logger;
    private readonly Lock _groupsLock = new();
    private readonly Dictionary<string, ClassicGroup> _groups = new(StringComparer.Ordinal);
    private readonly ITimer _retentionTimer;

    public GroupCoordinator(BrokerCore broker)
    {
        _broker = broker;
        _logger = broker.LoggerFactory.CreateLogger<GroupCoordinator>();
        _store = new OffsetsTopicStore(broker, _logger);
        _leadership = CreateLeadership();
        if (!broker.Config.ClusterMode)
        {
            _shareGroupsAtStart = [];
            for (var partition = 0; partition < broker.CoordinatorPartitionCount(OffsetsTopicStore.TopicName); partition++)
            {
                foreach (var (groupId, loaded) in Load(partition))
                {
                    _shareGroupsAtStart[groupId] = loaded;
                }
            }

            _leadership.ActivateAll();
        }

        var every = TimeSpan.FromMilliseconds(OffsetsRetentionCheckIntervalMs);
        _retentionTimer = broker.Time.CreateTimer(static state => ((GroupCoordinator)state!).OnRetentionTimer(), this, every, every);
    }

    internal TimeProvider Time => _broker.Time;

    internal int GroupMaxSize => _broker.Config.GroupMaxSize;

    internal int InitialRebalanceDelayMs => _broker.Config.GroupInitialRebalanceDelayMs;

    private long NowMs => _broker.NowMs;

    /// <summary>
    /// Appends share-group membership records (ShareGroups/ShareGroupRecords) to <c>__consumer_offsets</c>, whose log
    /// this coordinator's store writes. Throws IOException when the log cannot be written.
    /// </summary>
    internal void AppendShareGroupRecords(string groupId, IReadOnlyList<(byte[] Key, byte[]? Value)> records) => _store.Append(groupId, records);

    public Task<JoinGroupResult> JoinGroupAsync(JoinGroupParameters p)
    {
        if (p.GroupId.Length == 0)
        {
            return Task.FromResult(JoinGroupResult.Failed(ErrorCode.InvalidGroupId, p.MemberId));
        }

        if (p.SessionTimeoutMs < _broker.Config.GroupMinSessionTimeoutMs || p.SessionTimeoutMs > _broker.Config.GroupMaxSessionTimeoutMs)
        {
            return Task.FromResult(JoinGroupResult.Failed(ErrorCode.InvalidSessionTimeout, p.MemberId));
        }

        var claim = ClaimForClassic(p.GroupId);
        if (claim != ErrorCode.None)
        {
            return Task.FromResult(JoinGroupResult.Failed(claim, p.MemberId));
        }

        while (true)
        {
            // Only a member without an id may create the group: a known member id in an unknown group is stale.
            var group = p.MemberId.Length == 0 ? GetOrCreate(p.GroupId) : Find(p.GroupId);
            if (group is null)
            {
                return Task.FromResult(JoinGroupResult.Failed(p.MemberId.Length == 0 ? ErrorCode.CoordinatorNotAvailable : ErrorCode.UnknownMemberId, p.MemberId));
            }

            lock (group.Lock)
            {
                if (group.State != GroupState.Dead)
                {
                    return group.Join(p, NowMs);
                }
            }
        }
    }

    public Task<SyncGroupResult> SyncGroupAsync(SyncGroupParameters p)
    {
        if (p.GroupId.Length == 0)
        {
            return Task.FromResult(SyncGroupResult.Failed(ErrorCode.InvalidGroupId));
        }

        return WithGroup(p.GroupId, group => group.Sync(p, NowMs), Task.FromResult(SyncGroupResult.Failed(ErrorCode.UnknownMemberId)));
    }

    public ErrorCode Heartbeat(string groupId, string memberId, int generationId, string? groupInstanceId)
    {
        if (groupId.Length == 0)
        {
            return ErrorCode.InvalidGroupId;
        }

        return WithGroup(groupId, group => group.Heartbeat(memberId, generationId, groupInstanceId, NowMs), ErrorCode.UnknownMemberId);
    }

    /// <summary>Removes members; the result has one error per member, in order. Unknown groups answer UNKNOWN_MEMBER_ID per member.</summary>
    public ErrorCode[] LeaveGroup(string groupId, IReadOnlyList<(string MemberId, string? GroupInstanceId)> members)
    {
        if (groupId.Length == 0)
        {
            return [.. members.Select(_ => ErrorCode.InvalidGroupId)];
        }

        return WithGroup(groupId, group => group.Leave(members, NowMs), [.. members.Select(_ => ErrorCode.UnknownMemberId)]);
    }

    /// <summary>
    /// Commits offsets; one error per entry. Kafka's rules (<see cref="ClassicGroup.ValidateCommit"/>): generation -1
    /// is a "simple" commit, allowed while the group has no members (and creating the group if needed); otherwise the
    /// member and generation must be current, and a group that does not exist is GROUP_ID_NOT_FOUND from OffsetCommit
    /// v9 (<paramref name="apiVersion"/>) and ILLEGAL_GENERATION before, as in Kafka's OffsetMetadataManager. Unknown
    /// topics or partitions get UNKNOWN_TOPIC_OR_PARTITION.
    /// </summary>
    public ErrorCode[] CommitOffsets(string groupId, int generationId, string memberId, string? groupInstanceId, IReadOnlyList<OffsetCommitEntry> entries, short apiVersion)
    {
        var results = new ErrorCode[entries.Count];
        if (groupId.Length == 0)
        {
            Array.Fill(results, ErrorCode.InvalidGroupId);
            return results;
        }

        while (true)
        {
            var group = generationId < 0 || IsConsumerGroup(groupId) ? GetOrCreate(groupId) : Find(groupId);
            if (group is null)
            {
                Array.Fill(results, generationId < 0 ? ErrorCode.CoordinatorNotAvailable : apiVersion >= 9 ? ErrorCode.GroupIdNotFound : ErrorCode.IllegalGeneration);
                return results;
            }

            lock (group.Lock)
            {
                if (group.State == GroupState.Dead)
                {
                    continue;
                }

                var now = NowMs;
                var groupError = ValidateConsumerCommit(groupId, generationId, memberId, apiVersion) ?? group.ValidateCommit(generationId, memberId, groupInstanceId, transactional: false, now);
                if (groupError != ErrorCode.None)
                {
                    Array.Fill(results, groupError);
                    return results;
                }

                var records = new List<(byte[] Key, byte[]? Value)>(entries.Count);
                var accepted = new List<(int Index, CommittedOffset Offset)>(entries.Count);
                for (var i = 0; i < entries.Count; i++)
                {
                    var e = entries[i];
                    var topic = _broker.Metadata.Find(e.Topic);
                    if (topic is null || e.Partition < 0 || e.Partition >= topic.PartitionCount)
                    {
                        results[i] = ErrorCode.UnknownTopicOrPartition;
                    }
                    else if (e.Metadata is { Length: > CommitMetadataBytesMax })
                    {
                        results[i] = ErrorCode.OffsetMetadataTooLarge;
                    }
                    else
                    {
                        var offset = new CommittedOffset(e.Offset, e.LeaderEpoch, e.Metadata, now);
                        records.Add((OffsetsTopicFormat.OffsetKey(groupId, e.Topic, e.Partition), OffsetsTopicFormat.OffsetValue(offset)));
                        accepted.Add((i, offset));
                    }
                }

                try
                {
                    _store.Append(groupId, records);
                }
                catch (IOException e)
                {
                    LogPersistFailed(e, groupId);
                    foreach (var (index, _) in accepted)
                    {
                        results[index] = ErrorCode.CoordinatorNotAvailable;
                    }

                    return results;
                }

                foreach (var (index, offset) in accepted)
                {
                    group.SetOffset((entries[index].Topic, entries[index].Partition), offset);
                }

                SupersedePendingOffsets(groupId, accepted.Select(a => (entries[a.Index].Topic, entries[a.Index].Partition)));
                return results;
            }
        }
    }

    /// <summary>
    /// TxnOffsetCommit's group check, made when the offsets are sent (as Kafka's coordinator does): an unknown group
    /// is accepted with generation -1 (it is created when the transaction commits) and is ILLEGAL_GENERATION
    /// otherwise; a classic group applies <see cref="ClassicGroup.ValidateCommit"/>, a consumer group its member and
    /// epoch check, a stale epoch answered ILLEGAL_GENERATION as TxnOffsetCommit has no STALE_MEMBER_EPOCH.
    /// </summary>
    public ErrorCode ValidateTransactionalCommit(string groupId, int generationId, string memberId, string? groupInstanceId)
    {
        if (ValidateConsumerCommit(groupId, generationId, memberId, offsetCommitVersion: null) is { } consumerError)
        {
            return consumerError == ErrorCode.StaleMemberEpoch ? ErrorCode.IllegalGeneration : consumerError;
        }

        return WithGroup(
            groupId,
            group => group.ValidateCommit(generationId, memberId, groupInstanceId, transactional: true, NowMs),
            generationId < 0 ? ErrorCode.None : ErrorCode.IllegalGeneration);
    }

    /// <summary>Every committed offset of the group (empty for an unknown group).</summary>
    public IReadOnlyDictionary<(string Topic, int Partition), CommittedOffset> FetchOffsets(string groupId) =>
        WithGroup(groupId, group => new Dictionary<(string Topic, int Partition), CommittedOffset>(group.Offsets), new Dictionary<(string Topic, int Partition), CommittedOffset>());

    /// <summary>
    /// OffsetDelete: the group error (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP for a non-consumer group with members) and
    /// one error per partition (GROUP_SUBSCRIBED_TO_TOPIC while a member subscribes to the topic).
    /// </summary>
    public (ErrorCode GroupError, ErrorCode[] Results) DeleteOffsets(string groupId, IReadOnlyList<(string Topic, int Partition)> partitions)
    {
        var results = new ErrorCode[partitions.Count];
        return WithGroup(groupId, group =>
        {
            HashSet<string>? subscribed = null;
            if (group.State != GroupState.Empty)
            {
                subscribed = group.SubscribedTopics();
                if (subscribed is null)
                {
                    return (group.ProtocolType == "consumer" ? ErrorCode.None : ErrorCode.NonEmptyGroup, Fill(ErrorCode.GroupSubscribedToTopic));
                }
            }

            var records = new List<(byte[] Key, byte[]? Value)>();
            var deleted = new List<(string Topic, int Partition)>();
            for (var i = 0; i < partitions.Count; i++)
            {
                var (topicName, partition) = partitions[i];
                var topic = _broker.Metadata.Find(topicName);
                if (topic is null || partition < 0 || partition >= topic.PartitionCount)
                {
                    results[i] = ErrorCode.UnknownTopicOrPartition;
                }
                else if (subscribed is not null && subscribed.Contains(topicName))
                {
                    results[i] = ErrorCode.GroupSubscribedToTopic;
                }
                else if (group.Offsets.ContainsKey((topicName, partition)))
                {
                    records.Add((OffsetsTopicFormat.OffsetKey(groupId, topicName, partition), null));
                    deleted.Add((topicName, partition));
                }
            }

            try
            {
                _store.Append(groupId, records);
            }
            catch (IOException e)
            {
                LogPersistFailed(e, groupId);
                return (ErrorCode.CoordinatorNotAvailable, results);
            }

            foreach (var tp in deleted)
            {
                group.SetOffset(tp, null);
            }

            return (ErrorCode.None, results);
        }, (ErrorCode.GroupIdNotFound, results));

        ErrorCode[] Fill(ErrorCode error)
        {
            Array.Fill(results, error);
            return results;
        }
    }

    /// <summary>
    /// DescribeGroups: an unknown group is described as Dead with no members, as Kafka does (v0-5). So is a KIP-848
    /// consumer group, even one with committed offsets: Kafka's DescribeGroups only knows classic groups (v6 adds
    /// GROUP_ID_NOT_FOUND for it); clients describe consumer groups with ConsumerGroupDescribe.
    /// </summary>
    public GroupDescription DescribeGroup(string groupId)
    {
        var dead = new GroupDescription(groupId, GroupState.Dead, "", "", []);
        return IsConsumerGroup(groupId) ? dead : WithGroup(groupId, group => group.Describe(), dead);
    }

    public IReadOnlyList<GroupListing> ListGroups()
    {
        ClassicGroup[] groups;
        lock (_groupsLock)
        {
            groups = [.. _groups.Values];
        }

        var listings = new List<GroupListing>(groups.Length);
        foreach (var group in groups)
        {
            lock (group.Lock)
            {
                // A consumer-protocol group's offsets live in a classic entry without members: ListConsumerGroups lists it.
                if (group.State != GroupState.Dead && !(group.MemberCount == 0 && IsConsumerGroup(group.GroupId)))
                {
                    listings.Add(new GroupListing(group.GroupId, group.ProtocolType, group.State));
                }
            }
        }

        return listings;
    }

    /// <summary>DeleteGroups for one group: NON_EMPTY_GROUP while it has members, GROUP_ID_NOT_FOUND when unknown.</summary>
    public ErrorCode DeleteGroup(string groupId)
    {
        if (groupId.Length == 0)
        {
            return ErrorCode.InvalidGroupId;
        }

        var consumerError = DeleteConsumerGroup(groupId);
        if (consumerError is not null)
        {
            return consumerError.Value;
        }

        return WithGroup(groupId, group =>
        {
            if (group.State != GroupState.Empty)
            {
                return ErrorCode.NonEmptyGroup;
            }

            var error = Tombstone(group);
            if (error == ErrorCode.None)
            {
                LogGroupDeleted(groupId);
            }

            return error;
        }, ErrorCode.GroupIdNotFound);
    }

    /// <summary>
    /// Removes the offsets that expired (see <see cref="ClassicGroup.ExpiredOffsets"/>) and then empty groups, classic
    /// and consumer, with no offsets left. Runs every <see cref="OffsetsRetentionCheckIntervalMs"/>; returns the number
    /// of offsets removed.
    /// </summary>
    public int ExpireOffsets()
    {
        ClassicGroup[] groups;
        lock (_groupsLock)
        {
            groups = [.. _groups.Values];
        }

        var removed = 0;
        foreach (var group in groups)
        {
            lock (group.Lock)
            {
                if (group.State != GroupState.Empty || ConsumerGroupHasMembers(group.GroupId))
                {
                    continue;
                }

                // As Kafka's OffsetMetadataManager: a partition with a transactional offset pending does not expire.
                var expired = group.ExpiredOffsets(NowMs, _broker.Config.OffsetsRetentionMs).Where(tp => !HasPendingTransactionalOffset(group.GroupId, tp.Topic, tp.Partition)).ToList();
                if (expired.Count > 0)
                {
                    try
                    {
                        _store.Append(group.GroupId, [.. expired.Select(tp => (OffsetsTopicFormat.OffsetKey(group.GroupId, tp.Topic, tp.Partition), (byte[]?)null))]);
                    }
                    catch (IOException e)
                    {
                        LogPersistFailed(e, group.GroupId);
                        continue;
                    }

                    foreach (var tp in expired)
                    {
                        group.SetOffset(tp, null);
                    }

                    removed += expired.Count;
                }

                if (!group.HasOffsets)
                {
                    Tombstone(group);
                }
            }
        }

        if (removed > 0)
        {
            LogOffsetsExpired(removed);
        }

        DeleteEmptyConsumerGroups();
        return removed;
    }

    public void Dispose()
    {
        _retentionTimer.Dispose();
        DisposeConsumerGroups();
        ClassicGroup[] groups;
        lock (_groupsLock)
        {
            groups = [.. _groups.Values];
        }

        foreach (var group in groups)
        {
            lock (group.Lock)
            {
                group.MarkDead();
            }
        }
    }

    /// <summary>Appends the group's metadata record. A failure is logged: the group carries on in memory and is re-persisted on its next change.</summary>
    internal void PersistGroup(ClassicGroup group)
    {
        try
        {
            _store.Append(group.GroupId, [(OffsetsTopicFormat.GroupKey(group.GroupId), OffsetsTopicFormat.GroupValue(group.Snapshot()))]);
            group.MarkPersisted();
        }
        catch (IOException e)
        {
            LogPersistFailed(e, group.GroupId);
        }
    }

    internal void RunTimer(ClassicGroup group)
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

    internal void OnMemberExpired(string groupId, string memberId) => LogMemberExpired(groupId, memberId);

    private ErrorCode Tombstone(ClassicGroup group)
    {
        var records = group.Offsets.Keys.Select(tp => (OffsetsTopicFormat.OffsetKey(group.GroupId, tp.Topic, tp.Partition), (byte[]?)null)).ToList();
        if (group.HasMetadataRecord)
        {
            records.Add((OffsetsTopicFormat.GroupKey(group.GroupId), null));
        }

        try
        {
            _store.Append(group.GroupId, records);
        }
        catch (IOException e)
        {
            LogPersistFailed(e, group.GroupId);
            return ErrorCode.CoordinatorNotAvailable;
        }

        group.MarkDead();
        lock (_groupsLock)
        {
            if (_groups.TryGetValue(group.GroupId, out var current) && current == group)
            {
                _groups.Remove(group.GroupId);
            }
        }

        return ErrorCode.None;
    }

    private T WithGroup<T>(string groupId, Func<ClassicGroup, T> action, T whenUnknown)
    {
        while (true)
        {
            var group = Find(groupId);
            if (group is null)
            {
                return whenUnknown;
            }

            lock (group.Lock)
            {
                if (group.State != GroupState.Dead)
                {
                    return action(group);
                }
            }
        }
    }

    private ClassicGroup? Find(string groupId) => FindGroup(_groups, groupId);

    private ClassicGroup? GetOrCreate(string groupId) =>
        GetOrCreateGroup(_groups, groupId, () => _groups.Count, () => new ClassicGroup(groupId, this));

    private TGroup? FindGroup<TGroup>(Dictionary<string, TGroup> groups, string groupId)
        where TGroup : class
    {
        lock (_groupsLock)
        {
            return groups.GetValueOrDefault(groupId);
        }
    }

    /// <summary>
    /// Finds or creates a group in one of the two group maps, under the groups lock. A new group is refused (null)
    /// when <paramref name="groupCount"/> has reached <see cref="GroupsMax"/>.
    /// </summary>
    private TGroup? GetOrCreateGroup<TGroup>(Dictionary<string, TGroup> groups, string groupId, Func<int> groupCount, Func<TGroup> create)
        where TGroup : class
    {
        lock (_groupsLock)
        {
            if (groups.TryGetValue(groupId, out var group))
            {
                return group;
            }

            if (groupCount() >= GroupsMax)
            {
                LogTooManyGroups(groupId, GroupsMax);
                return null;
            }

            group = create();
            groups[groupId] = group;
            return group;
        }
    }

    // Loads the groups of one partition of __consumer_offsets (their records are all there) next to those of the other
    // partitions already loaded. Returns the share groups the partition holds, for the share-group coordinator.
    private Dictionary<string, ShareGroupRecords.Loaded> Load(int partition)
    {
        var now = NowMs;
        var consumerEntries = new List<OffsetsTopicFormat.Entry>();
        var shareGroups = new Dictionary<string, ShareGroupRecords.Loaded>(StringComparer.Ordinal);
        var (entries, pending) = _store.Load(partition, shareGroups);
        var loaded = new HashSet<string>(StringComparer.Ordinal);
        RestorePendingTransactionalOffsets(pending);
        foreach (var entry in entries)
        {
            if (entry is not (OffsetsTopicFormat.OffsetEntry or OffsetsTopicFormat.GroupEntry))
            {
                consumerEntries.Add(entry);
                continue;
            }

            if (!_groups.TryGetValue(entry.Group, out var group))
            {
                group = new ClassicGroup(entry.Group, this);
                _groups[entry.Group] = group;
            }

            loaded.Add(entry.Group);

            switch (entry)
            {
                case OffsetsTopicFormat.OffsetEntry o:
                    group.SetOffset((o.Topic, o.Partition), o.Offset);
                    break;
                case OffsetsTopicFormat.GroupEntry g:
                    group.Restore(g.Snapshot, now);
                    break;
            }
        }

        foreach (var group in loaded.Select(id => _groups[id]))
        {
            if (group.MemberCount == 0 && !group.HasOffsets && !group.HasMetadataRecord)
            {
                _groups.Remove(group.GroupId);
                continue;
            }

            lock (group.Lock)
            {
                group.Reschedule(now);
            }
        }

        var consumerGroups = LoadConsumerGroups(consumerEntries, now);
        LogGroupsLoaded(loaded.Count(_groups.ContainsKey) + consumerGroups, partition);
        return shareGroups;
    }

    private void OnRetentionTimer()
    {
        try
        {
            ExpireOffsets();
        }
        catch (Exception e)
        {
            LogTimerFailed(e, "(offset retention)");
        }
    }

    [LoggerMessage(EventId = 610, Level = LogLevel.Information, Message = "Group coordinator loaded {Groups} groups of __consumer_offsets-{Partition}")]
    private partial void LogGroupsLoaded(int groups, int partition);

    [LoggerMessage(EventId = 611, Level = LogLevel.Error, Message = "Could not write group {GroupId} to __consumer_offsets")]
    private partial void LogPersistFailed(Exception exception, string groupId);

    [LoggerMessage(EventId = 612, Level = LogLevel.Information, Message = "Member {MemberId} of group {GroupId} expired")]
    private partial void LogMemberExpired(string groupId, string memberId);

    [LoggerMessage(EventId = 613, Level = LogLevel.Error, Message = "Group timer failed for {GroupId}")]
    private partial void LogTimerFailed(Exception exception, string groupId);

    [LoggerMessage(EventId = 614, Level = LogLevel.Information, Message = "Expired {Offsets} committed offsets")]
    private partial void LogOffsetsExpired(int offsets);

    [LoggerMessage(EventId = 615, Level = LogLevel.Information, Message = "Deleted group {GroupId}")]
    private partial void LogGroupDeleted(string groupId);

    [LoggerMessage(EventId = 616, Level = LogLevel.Warning, Message = "Refused to create group {GroupId}: the coordinator already holds {GroupsMax} groups")]
    private partial void LogTooManyGroups(string groupId, int groupsMax);
}
