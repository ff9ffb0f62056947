using System.Buffers;
using System.Net;
using Tributary.Broker.Config;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.Groups;

/// <summary>
/// A <see cref="TestBroker"/> with the group handlers, a manual clock and a topic of three partitions, and helpers
/// for the group requests.
/// </summary>
public sealed class GroupTestBroker : IDisposable
{
    public const string Topic = "orders";
    public const int SessionTimeoutMs = 10_000;
    public const int RebalanceTimeoutMs = 20_000;

    /// <summary>The peer address every request comes from, as Kafka shows a loopback client in DescribeGroups.</summary>
    public const string ClientHost = "/127.0.0.1";

    /// <summary>The connection every request comes on: from 127.0.0.1, which Kafka shows as <see cref="ClientHost"/>.</summary>
    private static readonly ConnectionInfo Connection = new("test-connection", new IPEndPoint(IPAddress.Loopback, 50_000));

    private readonly TestBroker _broker;

    /// <summary>
    /// With a <paramref name="directory"/>, storage is on disk there (the caller deletes it; on <paramref name="device"/>
    /// when given); otherwise in memory.
    /// group.initial.rebalance.delay.ms is <paramref name="initialRebalanceDelayMs"/>: 0 unless a test is about the
    /// delay, as in Kafka's own development server.properties, so a first JoinGroup answers without moving the clock.
    /// </summary>
    public GroupTestBroker(BrokerConfig? config = null, ManualTimeProvider? time = null, string? directory = null, int initialRebalanceDelayMs = 0, Storage.Devices.ILogDevice? device = null)
    {
        Time = time ?? new ManualTimeProvider();
        config = (config ?? new BrokerConfig()) with { GroupInitialRebalanceDelayMs = initialRebalanceDelayMs };
        _broker = new TestBroker(config, Time, directory, device);
        _broker.CreateTopic(Topic, 3);
    }

    public ManualTimeProvider Time { get; }

    public BrokerCore Broker => _broker.Core;

    public JoinGroupHandler Join => field ??= new(Broker);

    public SyncGroupHandler Sync => field ??= new(Broker);

    public HeartbeatHandler Heartbeat => field ??= new(Broker);

    public LeaveGroupHandler Leave => field ??= new(Broker);

    public OffsetCommitHandler OffsetCommit => field ??= new(Broker);

    public OffsetFetchHandler OffsetFetch => field ??= new(Broker);

    public OffsetDeleteHandler OffsetDelete => field ??= new(Broker);

    public DescribeGroupsHandler DescribeGroups => field ??= new(Broker);

    public ListGroupsHandler ListGroups => field ??= new(Broker);

    public DeleteGroupsHandler DeleteGroups => field ??= new(Broker);

    public FindCoordinatorHandler FindCoordinator => field ??= new(Broker);

    /// <summary>Sends a request at <paramref name="version"/> and returns the response as a client would read it.</summary>
    public static Task<TResponse> CallAsync<TRequest, TResponse>(ApiHandler<TRequest, TResponse> handler, TRequest request, short version, string clientId = "client")
        where TRequest : class, IKafkaMessage<TRequest>
        where TResponse : class, IKafkaMessage<TResponse>
    {
        var context = new RequestContext(handler.Key, version, 1, clientId, Connection);
        return TestBroker.CallAsync(handler, context, request, TimeSpan.FromSeconds(10));
    }

    /// <summary>Consumer-protocol subscription metadata, as Kafka's consumer sends it in JoinGroup.</summary>
    public static byte[] Subscription(params string[] topics)
    {
        var subscription = new ConsumerProtocolSubscription { Topics = [.. topics] };
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        writer.WriteInt16(1);
        subscription.Write(ref writer, 1);
        return buffer.WrittenSpan.ToArray();
    }

    public static JoinGroupRequest JoinRequest(string group, string memberId = "", string? instanceId = null, byte[]? metadata = null, string protocol = "range", string protocolType = "consumer") => new()
    {
        GroupId = group,
        MemberId = memberId,
        GroupInstanceId = instanceId,
        SessionTimeoutMs = SessionTimeoutMs,
        RebalanceTimeoutMs = RebalanceTimeoutMs,
        ProtocolType = protocolType,
        Protocols = [new JoinGroupRequest.JoinGroupRequestProtocol { Name = protocol, Metadata = metadata ?? Subscription(Topic) }],
    };

    /// <summary>A v9 first join: MEMBER_ID_REQUIRED, then the join with the id the coordinator gave (KIP-394).</summary>
    public async Task<(string MemberId, Task<JoinGroupResponse> Join)> JoinNewMemberAsync(string group, string clientId, byte[]? metadata = null)
    {
        var first = await CallAsync(Join, JoinRequest(group, metadata: metadata), 9, clientId);
        Assert.Equal((short)ErrorCode.MemberIdRequired, first.ErrorCode);
        return (first.MemberId, CallAsync(Join, JoinRequest(group, first.MemberId, metadata: metadata), 9, clientId));
    }

    public Task<SyncGroupResponse> SyncAsync(string group, string memberId, int generation, params (string MemberId, byte[] Assignment)[] assignments) =>
        SyncAsync(group, memberId, generation, instanceId: null, assignments);

    /// <summary>SyncGroup v5 from a member that names its group instance id (a static member).</summary>
    public Task<SyncGroupResponse> SyncAsync(string group, string memberId, int generation, string? instanceId, params (string MemberId, byte[] Assignment)[] assignments) =>
        CallAsync(Sync, new SyncGroupRequest
        {
            GroupId = group,
            MemberId = memberId,
            GenerationId = generation,
            GroupInstanceId = instanceId,
            Assignments = [.. assignments.Select(a => new SyncGroupRequest.SyncGroupRequestAssignment { MemberId = a.MemberId, Assignment = a.Assignment })],
        }, 5);

    public async Task<ErrorCode> HeartbeatAsync(string group, string memberId, int generation, string? instanceId = null) =>
        (ErrorCode)(await CallAsync(Heartbeat, new HeartbeatRequest { GroupId = group, MemberId = memberId, GenerationId = generation, GroupInstanceId = instanceId }, 4)).ErrorCode;

    public Task<DescribeGroupsResponse.DescribedGroup> DescribeAsync(string group) =>
        CallAsync(DescribeGroups, new DescribeGroupsRequest { Groups = [group] }, 5).ContinueWith(t => t.Result.Groups.Single(), TaskScheduler.Default);

    public async Task<ErrorCode> CommitAsync(string group, int partition, long offset, string? metadata = null, int generation = -1, string memberId = "", string? instanceId = null, short version = 9)
    {
        var response = await CallAsync(OffsetCommit, new OffsetCommitRequest
        {
            GroupId = group,
            GenerationIdOrMemberEpoch = generation,
            MemberId = memberId,
            GroupInstanceId = instanceId,
            Topics = [new OffsetCommitRequest.OffsetCommitRequestTopic
            {
                Name = Topic,
                Partitions = [new OffsetCommitRequest.OffsetCommitRequestPartition { PartitionIndex = partition, CommittedOffset = offset, CommittedMetadata = metadata }],
            }],
        }, version);
        return (ErrorCode)response.Topics.Single().Partitions.Single().ErrorCode;
    }

    public async Task<OffsetFetchResponse.OffsetFetchResponsePartitions> FetchAsync(string group, int partition)
    {
        var response = await CallAsync(OffsetFetch, new OffsetFetchRequest
        {
            Groups = [new OffsetFetchRequest.OffsetFetchRequestGroup
            {
                GroupId = group,
                Topics = [new OffsetFetchRequest.OffsetFetchRequestTopics { Name = Topic, PartitionIndexes = [partition] }],
            }],
        }, 9);
        return response.Groups.Single().Topics.Single().Partitions.Single();
    }

    public void Dispose() => _broker.Dispose();
}
