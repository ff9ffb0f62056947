using System.Globalization;
using Tributary.Broker.Config;
using Tributary.Protocol;
using Tributary.Protocol.CoordinatorRecords;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.ShareGroups;

/// <summary>
/// Cluster mode: how a data partition's leader reads and writes its share partitions' state (Kafka's persister). A
/// share partition's coordinator is the leader of the partition of <c>__share_group_state</c> that holds its key
/// (<see cref="ShareStateTopic.PartitionFor"/>; the topic is created with share.coordinator.state.topic.num.partitions
/// partitions and .replication.factor replicas by the first use): this broker's own <see cref="ShareCoordinator"/>
/// when it leads that partition, else ReadShareGroupState / WriteShareGroupState / DeleteShareGroupState to the leader
/// (<see cref="BrokerCore.InterBrokerClient"/>), one call per coordinator for the keys it holds. A write is done once
/// the state partition's ISR has it. A lost connection or a call longer than <see cref="CallTimeoutMs"/> is
/// COORDINATOR_NOT_AVAILABLE; errors are Kafka's codes, which the share partition's request reports.
/// </summary>
internal sealed class ShareStatePersister(BrokerCore broker)
{
    /// <summary>How long one call to the share coordinator may take.</summary>
    public const int CallTimeoutMs = 10_000;

    private const short ReadVersion = 0;
    private const short WriteVersion = 1;
    private const short DeleteVersion = 0;
    private const short SummaryVersion = 1;
    private const short InitializeVersion = 0;

    /// <summary>The stored state of a share partition, fencing older leader epochs; null state when it has none yet.</summary>
    public async Task<(ErrorCode Error, ShareSnapshotValue? State)> ReadAsync(SharePartitionKey key, int leaderEpoch)
    {
        var (located, leader) = Locate(key);
        if (located != ErrorCode.None)
        {
            return (located, null);
        }

        if (leader == broker.NodeId)
        {
            var (error, state) = broker.ShareCoordinator.Read(key, leaderEpoch);
            var replicated = error == ErrorCode.None ? (await broker.ShareCoordinator.ReplicateAsync([key]).ConfigureAwait(false))(key) : error;
            return (replicated, replicated == ErrorCode.None ? state : null);
        }

        var request = new ReadShareGroupStateRequest
        {
            GroupId = key.GroupId,
            Topics = [new() { TopicId = key.TopicId, Partitions = [new() { Partition = key.Partition, LeaderEpoch = leaderEpoch }] }],
        };
        var response = await CallAsync<ReadShareGroupStateRequest, ReadShareGroupStateResponse>(leader, ApiKey.ReadShareGroupState, ReadVersion, request).ConfigureAwait(false);
        if (response?.Results.SelectMany(r => r.Partitions).FirstOrDefault() is not { } result)
        {
            return (ErrorCode.CoordinatorNotAvailable, null);
        }

        if (result.ErrorCode != 0 || result.StartOffset < 0)
        {
            return ((ErrorCode)result.ErrorCode, null);
        }

        return (ErrorCode.None, new ShareSnapshotValue
        {
            StateEpoch = result.StateEpoch,
            LeaderEpoch = leaderEpoch,
            StartOffset = result.StartOffset,
            StateBatches = [.. result.StateBatches.Select(b => new ShareSnapshotValue.StateBatch { FirstOffset = b.FirstOffset, LastOffset = b.LastOffset, DeliveryState = b.DeliveryState, DeliveryCount = b.DeliveryCount })],
        });
    }

    /// <summary>
    /// ReadShareGroupStateSummary for a group's partitions (DescribeShareGroupOffsets): per partition the error and the
    /// start offset and delivery-complete count, -1 for a partition without state. One error for all when the share
    /// coordinator cannot be reached.
    /// </summary>
    public async Task<IReadOnlyDictionary<(Guid TopicId, int Partition), (ErrorCode Error, long StartOffset, int DeliveryCompleteCount)>> SummaryAsync(
        string groupId, IReadOnlyList<(Guid TopicId, int Partition)> partitions) =>
        (await SummariesAsync(groupId, partitions).ConfigureAwait(false)).ToDictionary(s => s.Key, s => (s.Value.Error, s.Value.StartOffset, s.Value.DeliveryCompleteCount));

    /// <summary>Writes the states (null: deleted); the first error, or None once the coordinator's ISR has them all.</summary>
    public async Task<ErrorCode> WriteAsync(IReadOnlyList<(SharePartitionKey Key, ShareSnapshotValue? Value)> states)
    {
        var byLeader = new Dictionary<int, List<(SharePartitionKey Key, ShareSnapshotValue? Value)>>();
        foreach (var state in states)
        {
            var (located, leader) = Locate(state.Key);
            if (located != ErrorCode.None)
            {
                return located;
            }

            (byLeader.TryGetValue(leader, out var held) ? held : byLeader[leader] = []).Add(state);
        }

        foreach (var (leader, held) in byLeader)
        {
            var error = leader == broker.NodeId ? await WriteHereAsync(held).ConfigureAwait(false) : await WriteAtAsync(leader, held).ConfigureAwait(false);
            if (error != ErrorCode.None)
            {
                return error;
            }
        }

        return ErrorCode.None;
    }

    // The states whose state partitions this broker leads: written to its own coordinator, done once their ISRs have them.
    private async Task<ErrorCode> WriteHereAsync(List<(SharePartitionKey Key, ShareSnapshotValue? Value)> states)
    {
        var coordinator = broker.ShareCoordinator;
        foreach (var (key, value) in states)
        {
            var error = value is null ? coordinator.Delete(key) : coordinator.Write(key, value.StateEpoch, value.LeaderEpoch, value.StartOffset, value.StateBatches);
            if (error != ErrorCode.None)
            {
                return error;
            }
        }

        var replicated = await coordinator.ReplicateAsync(states.Select(s => s.Key)).ConfigureAwait(false);
        return states.Select(s => replicated(s.Key)).FirstOrDefault(e => e != ErrorCode.None);
    }

    // The states another broker coordinates: WriteShareGroupState and DeleteShareGroupState to it, per group.
    private async Task<ErrorCode> WriteAtAsync(int leader, List<(SharePartitionKey Key, ShareSnapshotValue? Value)> states)
    {
        foreach (var group in states.GroupBy(s => s.Key.GroupId))
        {
            var writes = group.Where(s => s.Value is not null).ToList();
            if (writes.Count > 0)
            {
                var request = new WriteShareGroupStateRequest
                {
                    GroupId = group.Key,
                    Topics = [.. writes.GroupBy(s => s.Key.TopicId).Select(t => new WriteShareGroupStateRequest.WriteStateData
                    {
                        TopicId = t.Key,
                        Partitions = [.. t.Select(s => new WriteShareGroupStateRequest.PartitionData
                        {
                            Partition = s.Key.Partition,
                            StateEpoch = s.Value!.StateEpoch,
                            LeaderEpoch = s.Value.LeaderEpoch,
                            StartOffset = s.Value.StartOffset,
                            DeliveryCompleteCount = s.Value.DeliveryCompleteCount,
                            StateBatches = [.. s.Value.StateBatches.Select(b => new WriteShareGroupStateRequest.StateBatch { FirstOffset = b.FirstOffset, LastOffset = b.LastOffset, DeliveryState = b.DeliveryState, DeliveryCount = b.DeliveryCount })],
                        })],
                    })],
                };
                var response = await CallAsync<WriteShareGroupStateRequest, WriteShareGroupStateResponse>(leader, ApiKey.WriteShareGroupState, WriteVersion, request).ConfigureAwait(false);
                if (FirstError(response?.Results.SelectMany(r => r.Partitions).Select(p => p.ErrorCode)) is var error and not ErrorCode.None)
                {
                    return error;
                }
            }

            var deletes = group.Where(s => s.Value is null).ToList();
            if (deletes.Count > 0)
            {
                var request = new DeleteShareGroupStateRequest
                {
                    GroupId = group.Key,
                    Topics = [.. deletes.GroupBy(s => s.Key.TopicId).Select(t => new DeleteShareGroupStateRequest.DeleteStateData
                    {
                        TopicId = t.Key,
                        Partitions = [.. t.Select(s => new DeleteShareGroupStateRequest.PartitionData { Partition = s.Key.Partition })],
                    })],
                };
                var response = await CallAsync<DeleteShareGroupStateRequest, DeleteShareGroupStateResponse>(leader, ApiKey.DeleteShareGroupState, DeleteVersion, request).ConfigureAwait(false);
                if (FirstError(response?.Results.SelectMany(r => r.Partitions).Select(p => p.ErrorCode)) is var error and not ErrorCode.None)
                {
                    return error;
                }
            }
        }

        return ErrorCode.None;
    }

    /// <summary>
    /// AlterShareGroupOffsets in cluster mode: each partition starts again at its offset with nothing in flight, under
    /// the next state epoch (InitializeShareGroupState), so a data partition's leader that still holds the old state is
    /// fenced (FENCED_STATE_EPOCH) at its next write and loads the new one. Per partition the error, None when done.
    /// </summary>
    public async Task<IReadOnlyDictionary<(Guid TopicId, int Partition), ErrorCode>> ResetAsync(string groupId, IReadOnlyList<(Guid TopicId, int Partition, long StartOffset)> partitions)
    {
        var current = await SummariesAsync(groupId, [.. partitions.Select(p => (p.TopicId, p.Partition))]).ConfigureAwait(false);
        var results = new Dictionary<(Guid TopicId, int Partition), ErrorCode>();
        var ready = new List<(Guid TopicId, int Partition, long StartOffset, int StateEpoch)>();
        foreach (var (topicId, partition, startOffset) in partitions)
        {
            var (error, _, _, stateEpoch) = current[(topicId, partition)];
            if (error != ErrorCode.None)
            {
                results[(topicId, partition)] = error;
            }
            else
            {
                ready.Add((topicId, partition, startOffset, stateEpoch + 1));
            }
        }

        if (ready.Count == 0)
        {
            return results;
        }

        foreach (var (located, leader, held) in ByLeader(groupId, ready, p => (p.TopicId, p.Partition)))
        {
            if (located != ErrorCode.None)
            {
                foreach (var (topicId, partition, _, _) in held)
                {
                    results[(topicId, partition)] = located;
                }

                continue;
            }

            if (leader == broker.NodeId)
            {
                var coordinator = broker.ShareCoordinator;
                foreach (var (topicId, partition, startOffset, stateEpoch) in held)
                {
                    results[(topicId, partition)] = coordinator.Initialize(new SharePartitionKey(groupId, topicId, partition), stateEpoch, startOffset);
                }

                var initialized = held.Where(p => results[(p.TopicId, p.Partition)] == ErrorCode.None).Select(p => new SharePartitionKey(groupId, p.TopicId, p.Partition)).ToList();
                var replicated = await coordinator.ReplicateAsync(initialized).ConfigureAwait(false);
                foreach (var key in initialized)
                {
                    results[(key.TopicId, key.Partition)] = replicated(key);
                }

                continue;
            }

            var response = await CallAsync<InitializeShareGroupStateRequest, InitializeShareGroupStateResponse>(leader, ApiKey.InitializeShareGroupState, InitializeVersion, new InitializeShareGroupStateRequest
            {
                GroupId = groupId,
                Topics = [.. held.GroupBy(p => p.TopicId).Select(t => new InitializeShareGroupStateRequest.InitializeStateData
                {
                    TopicId = t.Key,
                    Partitions = [.. t.Select(p => new InitializeShareGroupStateRequest.PartitionData { Partition = p.Partition, StateEpoch = p.StateEpoch, StartOffset = p.StartOffset })],
                })],
            }).ConfigureAwait(false);
            var answered = response?.Results.SelectMany(r => r.Partitions.Select(p => (Key: (r.TopicId, p.Partition), Error: (ErrorCode)p.ErrorCode))).ToDictionary(p => p.Key, p => p.Error) ?? [];
            foreach (var (topicId, partition, _, _) in held)
            {
                results[(topicId, partition)] = answered.TryGetValue((topicId, partition), out var error) ? error : ErrorCode.CoordinatorNotAvailable;
            }
        }

        return results;
    }

    // ReadShareGroupStateSummary, in process on the share coordinator's leader, else over the wire: per partition the
    // error, start offset and delivery-complete count (-1 without state) and state epoch (0 without state).
    private async Task<IReadOnlyDictionary<(Guid TopicId, int Partition), (ErrorCode Error, long StartOffset, int DeliveryCompleteCount, int StateEpoch)>> SummariesAsync(
        string groupId, IReadOnlyList<(Guid TopicId, int Partition)> partitions)
    {
        var results = new Dictionary<(Guid TopicId, int Partition), (ErrorCode Error, long StartOffset, int DeliveryCompleteCount, int StateEpoch)>();
        foreach (var (located, leader, held) in ByLeader(groupId, [.. partitions.Distinct()], p => p))
        {
            if (located == ErrorCode.None && leader == broker.NodeId)
            {
                foreach (var p in held)
                {
                    var (error, state) = broker.ShareCoordinator.Summary(new SharePartitionKey(groupId, p.TopicId, p.Partition), -1);
                    results[p] = (error, state?.StartOffset ?? -1, state?.DeliveryCompleteCount ?? -1, state?.StateEpoch ?? 0);
                }

                continue;
            }

            var response = located != ErrorCode.None ? null : await CallAsync<ReadShareGroupStateSummaryRequest, ReadShareGroupStateSummaryResponse>(leader, ApiKey.ReadShareGroupStateSummary, SummaryVersion, new ReadShareGroupStateSummaryRequest
            {
                GroupId = groupId,
                Topics = [.. held.GroupBy(p => p.TopicId).Select(t => new ReadShareGroupStateSummaryRequest.ReadStateSummaryData
                {
                    TopicId = t.Key,
                    Partitions = [.. t.Select(p => new ReadShareGroupStateSummaryRequest.PartitionData { Partition = p.Partition, LeaderEpoch = -1 })],
                })],
            }).ConfigureAwait(false);
            var answered = response?.Results.SelectMany(r => r.Partitions.Select(p => (Key: (r.TopicId, p.Partition), p.ErrorCode, p.StartOffset, p.DeliveryCompleteCount, p.StateEpoch)))
                .ToDictionary(p => p.Key) ?? [];
            var unreachable = located != ErrorCode.None ? located : ErrorCode.CoordinatorNotAvailable;
            foreach (var p in held)
            {
                results[p] = answered.TryGetValue(p, out var r) ? ((ErrorCode)r.ErrorCode, r.StartOffset, r.DeliveryCompleteCount, r.StateEpoch) : (unreachable, -1L, -1, 0);
            }
        }

        return results;
    }

    // The group's share partitions grouped by the broker that coordinates their state (Locate); an error (no leader
    // yet, the topic not created) groups them under leader -1 with that error.
    private IEnumerable<(ErrorCode Error, int Leader, List<T> Held)> ByLeader<T>(string groupId, IReadOnlyList<T> items, Func<T, (Guid TopicId, int Partition)> partitionOf) =>
        items.Select(item =>
            {
                var (topicId, partition) = partitionOf(item);
                var (error, leader) = Locate(new SharePartitionKey(groupId, topicId, partition));
                return (Error: error, Leader: error == ErrorCode.None ? leader : -1, Item: item);
            })
            .GroupBy(x => (x.Error, x.Leader))
            .Select(g => (g.Key.Error, g.Key.Leader, g.Select(x => x.Item).ToList()));

    // The leader of the partition of __share_group_state that holds the key, creating the topic on first use (as
    // FindCoordinator does for the others).
    private (ErrorCode Error, int Leader) Locate(SharePartitionKey key) => broker.CoordinatorNode(ShareStateTopic.TopicName, key.CoordinatorKey,
        broker.Config.ShareCoordinatorStateTopicReplicationFactor,
        new Dictionary<string, string> { [TopicConfigs.MinInsyncReplicas] = broker.Config.ShareCoordinatorStateTopicMinIsr.ToString(CultureInfo.InvariantCulture) });

    // Null when the coordinator could not be reached (a lost connection, the timeout).
    private async Task<TResponse?> CallAsync<TRequest, TResponse>(int leader, ApiKey key, short version, TRequest request)
        where TRequest : IKafkaMessage
        where TResponse : class, IKafkaMessage<TResponse>
    {
        if (broker.InterBrokerClient is not { } client || !broker.Cluster!.TryGetBroker(leader, out var target))
        {
            return null;
        }

        using var timeout = new CancellationTokenSource(CallTimeoutMs);
        try
        {
            return await client.SendAsync<TRequest, TResponse>(target, key, version, request, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException or ProtocolException or InvalidOperationException)
        {
            return null;
        }
    }

    // A missing response is COORDINATOR_NOT_AVAILABLE; else the first partition's error, or None.
    private static ErrorCode FirstError(IEnumerable<short>? errors) => errors is null
        ? ErrorCode.CoordinatorNotAvailable
        : errors.Select(e => (ErrorCode)e).FirstOrDefault(e => e != ErrorCode.None);
}
