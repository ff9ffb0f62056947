using Tributary.Cli.Connection;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;

namespace Tributary.Cli.Commands;

/// <summary>
/// A member of a consumer group under KIP-848's protocol, subscribed to one topic: it heartbeats on its own connection
/// to the group coordinator, learns its target assignment from the responses, and reports the partitions it owns, so the
/// coordinator hands a revoked partition to another member only after this one let it go. The consume loop
/// reconciles (commits what it gives up, then calls <see cref="SetOwned"/>). It also commits and fetches offsets.
/// </summary>
internal sealed class ConsumerGroupMember : IAsyncDisposable
{
    private const short FindCoordinatorVersion = 4;
    private const short HeartbeatVersion = 1;
    private const short OffsetCommitVersion = 9;
    private const short OffsetFetchVersion = 9;
    private const int RebalanceTimeoutMs = 30_000;
    private const int LeaveEpoch = -1;

    private readonly KafkaWireClient _coordinator;
    private readonly SemaphoreSlim _connection = new(1, 1);
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Lock _lock = new();
    private readonly string _groupId;
    private readonly string _topic;
    private readonly Guid _topicId;
    private IReadOnlySet<int> _target = new HashSet<int>();
    private List<int> _owned = [];
    private int _epoch;
    private int _heartbeatIntervalMs = 1000;
    private Task _heartbeats = Task.CompletedTask;
    private CancellationTokenSource? _stop;
    private Exception? _failure;

    private ConsumerGroupMember(KafkaWireClient coordinator, string groupId, string topic, Guid topicId)
    {
        _coordinator = coordinator;
        _groupId = groupId;
        _topic = topic;
        _topicId = topicId;
    }

    /// <summary>The id this member chose (ConsumerGroupHeartbeat v1: the client generates it).</summary>
    public string MemberId { get; } = Guid.NewGuid().ToString("N");

    /// <summary>The partitions of the topic the coordinator wants this member to own now.</summary>
    public IReadOnlySet<int> Target
    {
        get
        {
            lock (_lock)
            {
                return _failure is null ? _target : throw new CommandFailedException(_failure.Message);
            }
        }
    }

    /// <summary>Finds the group's coordinator, connects to it and joins; heartbeats continue until <see cref="LeaveAsync"/>.</summary>
    public static async Task<ConsumerGroupMember> JoinAsync(KafkaWireClient bootstrap, ClientSecurity security, string groupId, string topic, Guid topicId, CancellationToken cancellationToken)
    {
        var found = await bootstrap.SendAsync<FindCoordinatorRequest, FindCoordinatorResponse>(
            ApiKey.FindCoordinator, FindCoordinatorVersion, new FindCoordinatorRequest { KeyType = 0, CoordinatorKeys = [groupId] }, cancellationToken).ConfigureAwait(false);
        var coordinator = found.Coordinators.Single();
        if (coordinator.ErrorCode != 0)
        {
            throw new CommandFailedException($"no coordinator for group '{groupId}': {(ErrorCode)coordinator.ErrorCode}");
        }

        var client = await BrokerConnection.ConnectAsync($"{coordinator.Host}:{coordinator.Port}", security, cancellationToken).ConfigureAwait(false);
        var member = new ConsumerGroupMember(client, groupId, topic, topicId);
        await member.HeartbeatAsync(cancellationToken).ConfigureAwait(false);
        member._stop = new CancellationTokenSource();
        member._heartbeats = member.HeartbeatLoopAsync(member._stop.Token);
        return member;
    }

    /// <summary>Reports the partitions the consumer now reads (after committing those it gave up) with the next heartbeat, sent at once.</summary>
    public void SetOwned(IEnumerable<int> partitions)
    {
        lock (_lock)
        {
            _owned = [.. partitions.Order()];
        }

        _wake.Release();
    }

    /// <summary>Commits next-offsets to read; errors (a stale epoch during a rebalance) are reported on stderr, not fatal.</summary>
    public async Task CommitAsync(IReadOnlyDictionary<int, long> offsets, CancellationToken cancellationToken)
    {
        if (offsets.Count == 0)
        {
            return;
        }

        int epoch;
        lock (_lock)
        {
            epoch = _epoch;
        }

        var request = new OffsetCommitRequest
        {
            GroupId = _groupId,
            GenerationIdOrMemberEpoch = epoch,
            MemberId = MemberId,
            Topics = [new OffsetCommitRequest.OffsetCommitRequestTopic
            {
                Name = _topic,
                Partitions = [.. offsets.Select(o => new OffsetCommitRequest.OffsetCommitRequestPartition { PartitionIndex = o.Key, CommittedOffset = o.Value })],
            }],
        };
        var response = await SendAsync<OffsetCommitRequest, OffsetCommitResponse>(ApiKey.OffsetCommit, OffsetCommitVersion, request, cancellationToken).ConfigureAwait(false);
        foreach (var partition in response.Topics.SelectMany(t => t.Partitions).Where(p => p.ErrorCode != 0))
        {
            await Console.Error.WriteLineAsync($"tributary consume: committing {_topic}-{partition.PartitionIndex} failed: {(ErrorCode)partition.ErrorCode}").ConfigureAwait(false);
        }
    }

    /// <summary>The group's committed offsets for <paramref name="partitions"/>; partitions without one are left out.</summary>
    public async Task<Dictionary<int, long>> CommittedAsync(IEnumerable<int> partitions, CancellationToken cancellationToken)
    {
        var request = new OffsetFetchRequest
        {
            Groups = [new OffsetFetchRequest.OffsetFetchRequestGroup
            {
                GroupId = _groupId,
                Topics = [new OffsetFetchRequest.OffsetFetchRequestTopics { Name = _topic, PartitionIndexes = [.. partitions] }],
            }],
        };
        var response = await SendAsync<OffsetFetchRequest, OffsetFetchResponse>(ApiKey.OffsetFetch, OffsetFetchVersion, request, cancellationToken).ConfigureAwait(false);
        var group = response.Groups.Single();
        if (group.ErrorCode != 0)
        {
            throw new CommandFailedException($"fetching the offsets of group '{_groupId}': {(ErrorCode)group.ErrorCode}");
        }

        return group.Topics.SelectMany(t => t.Partitions).Where(p => p.ErrorCode == 0 && p.CommittedOffset >= 0).ToDictionary(p => p.PartitionIndex, p => p.CommittedOffset);
    }

    /// <summary>Stops heartbeating and leaves the group (epoch -1), so its partitions move to other members at once.</summary>
    public async Task LeaveAsync(CancellationToken cancellationToken)
    {
        if (_stop is not null)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }

        await _heartbeats.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        var request = new ConsumerGroupHeartbeatRequest { GroupId = _groupId, MemberId = MemberId, MemberEpoch = LeaveEpoch };
        await SendAsync<ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse>(ApiKey.ConsumerGroupHeartbeat, HeartbeatVersion, request, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _stop?.Cancel();
        await _heartbeats.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        _stop?.Dispose();
        await _coordinator.DisposeAsync().ConfigureAwait(false);
        _connection.Dispose();
        _wake.Dispose();
    }

    private async Task HeartbeatLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await _wake.WaitAsync(_heartbeatIntervalMs, cancellationToken).ConfigureAwait(false);

                // Not cancelled mid-request: that would leave a response unread on the connection LeaveAsync uses next.
                await HeartbeatAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is CommandFailedException or IOException or ProtocolException or System.Net.Sockets.SocketException)
        {
            lock (_lock)
            {
                _failure = e;
            }
        }
    }

    private async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        ConsumerGroupHeartbeatRequest request;
        lock (_lock)
        {
            // Every heartbeat is a full one (subscription and owned partitions): the coordinator then always answers
            // with the whole assignment, and a lost response cannot leave the two sides disagreeing.
            request = new ConsumerGroupHeartbeatRequest
            {
                GroupId = _groupId,
                MemberId = MemberId,
                MemberEpoch = _epoch,
                RebalanceTimeoutMs = RebalanceTimeoutMs,
                SubscribedTopicNames = [_topic],
                TopicPartitions = _owned.Count == 0 ? [] : [new ConsumerGroupHeartbeatRequest.TopicPartitionsData { TopicId = _topicId, Partitions = [.. _owned] }],
            };
        }

        var response = await SendAsync<ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse>(ApiKey.ConsumerGroupHeartbeat, HeartbeatVersion, request, cancellationToken).ConfigureAwait(false);
        var error = (ErrorCode)response.ErrorCode;
        lock (_lock)
        {
            if (error is ErrorCode.UnknownMemberId or ErrorCode.FencedMemberEpoch)
            {
                // KIP-848: a fenced member gives up its partitions (without committing) and rejoins with epoch 0.
                _epoch = 0;
                _owned = [];
                _target = new HashSet<int>();
                return;
            }

            if (error != ErrorCode.None)
            {
                throw new CommandFailedException($"group '{_groupId}': {error}{(response.ErrorMessage is null ? "" : $" ({response.ErrorMessage})")}");
            }

            _epoch = response.MemberEpoch;
            _heartbeatIntervalMs = Math.Clamp(response.HeartbeatIntervalMs, 100, 30_000);
            if (response.Assignment is { } assignment)
            {
                _target = assignment.TopicPartitions.Where(t => t.TopicId == _topicId).SelectMany(t => t.Partitions).ToHashSet();
            }
        }
    }

    private async Task<TResponse> SendAsync<TRequest, TResponse>(ApiKey key, short version, TRequest request, CancellationToken cancellationToken)
        where TRequest : IKafkaMessage
        where TResponse : IKafkaMessage<TResponse>
    {
        // The heartbeat loop and the consume loop share the coordinator connection, which carries one request at a time.
        await _connection.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await _coordinator.SendAsync<TRequest, TResponse>(key, version, request, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _connection.Release();
        }
    }
}
