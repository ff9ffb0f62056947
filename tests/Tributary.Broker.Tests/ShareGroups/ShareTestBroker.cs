using Tributary.Broker.Config;
using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.ShareGroups;

/// <summary>
/// A broker with the share-group handlers, a manual clock and a topic of two partitions, and the requests a share
/// consumer sends: heartbeats, ShareFetch with its session epoch, ShareAcknowledge.
/// </summary>
internal sealed class ShareTestBroker : IDisposable
{
    public const string Topic = "jobs";
    public const string Group = "workers";

    private readonly TestBroker _broker;

    public ShareTestBroker(ManualTimeProvider? time = null, string? directory = null, params string[] settings)
    {
        Time = time ?? new ManualTimeProvider();
        var (config, errors) = BrokerConfig.Parse(settings.Select(s => s.Split('=', 2)).Select(kv => KeyValuePair.Create(kv[0], kv[1])));
        Assert.Empty(errors);
        _broker = new TestBroker(config!, Time, directory);
        if (Core.Metadata.Find(Topic) is null)
        {
            _broker.CreateTopic(Topic, 2);
        }

        // Records produced before a test's first fetch are part of it.
        SetGroupConfig("share.auto.offset.reset", "earliest");
    }

    public ManualTimeProvider Time { get; }

    public BrokerCore Core => _broker.Core;

    public Guid TopicId => _broker.Topic(Topic).Id;

    public ShareGroupHeartbeatHandler Heartbeat => field ??= new(Core);

    public ShareGroupDescribeHandler Describe => field ??= new(Core);

    public ShareFetchHandler Fetch => field ??= new(Core);

    public ShareAcknowledgeHandler Acknowledge => field ??= new(Core);

    public void SetGroupConfig(string key, string value)
    {
        var configs = new Dictionary<string, string>(Core.Metadata.GroupConfigs(Group)) { [key] = value };
        Core.Metadata.SetGroupConfigs(Group, configs);
    }

    /// <summary>Appends one batch of <paramref name="values"/> to a partition; returns its base offset.</summary>
    public long Produce(int partition, params string[] values)
    {
        var log = Core.FindLog(_broker.Topic(Topic), partition)!;
        var before = log.LogEndOffset;
        log.Append(TestBroker.Batch(values));
        return before;
    }

    public Task<ShareGroupHeartbeatResponse> HeartbeatAsync(string memberId, int epoch, params string[] topics) =>
        _broker.SendAsync(Heartbeat, new ShareGroupHeartbeatRequest { GroupId = Group, MemberId = memberId, MemberEpoch = epoch, SubscribedTopicNames = topics.Length == 0 ? null : [.. topics] }, 1);

    /// <summary>A ShareFetch of partition 0 (and others listed) with acknowledgements; MaxWaitMs 0 unless given.</summary>
    public Task<ShareFetchResponse> FetchAsync(string memberId, int epoch, int[]? partitions = null, (int Partition, long First, long Last, AcknowledgeKind Type)[]? acks = null, int maxWaitMs = 0, int maxRecords = 500, short version = 1) =>
        _broker.SendAsync(Fetch, FetchRequest(memberId, epoch, partitions, acks, maxWaitMs, maxRecords), version);

    public ShareFetchRequest FetchRequest(string memberId, int epoch, int[]? partitions = null, (int Partition, long First, long Last, AcknowledgeKind Type)[]? acks = null, int maxWaitMs = 0, int maxRecords = 500)
    {
        var listed = (partitions ?? [0]).Concat(acks?.Select(a => a.Partition) ?? []).Distinct();
        return new ShareFetchRequest
        {
            GroupId = Group,
            MemberId = memberId,
            ShareSessionEpoch = epoch,
            MaxWaitMs = maxWaitMs,
            MinBytes = 1,
            MaxRecords = maxRecords,
            BatchSize = maxRecords,
            Topics =
            [
                new ShareFetchRequest.FetchTopic
                {
                    TopicId = TopicId,
                    Partitions = [.. listed.Select(p => new ShareFetchRequest.FetchPartition
                    {
                        PartitionIndex = p,
                        AcknowledgementBatches = [.. (acks ?? []).Where(a => a.Partition == p).Select(a => new ShareFetchRequest.AcknowledgementBatch { FirstOffset = a.First, LastOffset = a.Last, AcknowledgeTypes = [(sbyte)a.Type] })],
                    })],
                },
            ],
        };
    }

    public Task<ShareAcknowledgeResponse> AcknowledgeAsync(string memberId, int epoch, params (int Partition, long First, long Last, AcknowledgeKind Type)[] acks) =>
        AcknowledgeAsync(memberId, epoch, [.. acks.Select(a => (a.Partition, a.First, a.Last, new[] { (sbyte)a.Type }))]);

    public Task<ShareAcknowledgeResponse> AcknowledgeAsync(string memberId, int epoch, (int Partition, long First, long Last, sbyte[] Types)[] acks, short version = 1, bool renew = false) =>
        _broker.SendAsync(Acknowledge, new ShareAcknowledgeRequest
        {
            GroupId = Group,
            MemberId = memberId,
            ShareSessionEpoch = epoch,
            IsRenewAck = renew,
            Topics =
            [
                new ShareAcknowledgeRequest.AcknowledgeTopic
                {
                    TopicId = TopicId,
                    Partitions = [.. acks.GroupBy(a => a.Partition).Select(g => new ShareAcknowledgeRequest.AcknowledgePartition
                    {
                        PartitionIndex = g.Key,
                        AcknowledgementBatches = [.. g.Select(a => new ShareAcknowledgeRequest.AcknowledgementBatch { FirstOffset = a.First, LastOffset = a.Last, AcknowledgeTypes = [.. a.Types] })],
                    })],
                },
            ],
        }, version);

    public Task<TResponse> SendAsync<TRequest, TResponse>(Dispatch.ApiHandler<TRequest, TResponse> handler, TRequest request, short version)
        where TRequest : class, IKafkaMessage<TRequest>
        where TResponse : class, IKafkaMessage<TResponse> => _broker.SendAsync(handler, request, version);

    /// <summary>(first, last, delivery count) of every acquired range of a partition in a response.</summary>
    public static List<(long First, long Last, short DeliveryCount)> Acquired(ShareFetchResponse response, int partition = 0)
    {
        Assert.Equal(0, response.ErrorCode);
        return [.. response.Responses.SelectMany(t => t.Partitions).Where(p => p.PartitionIndex == partition)
            .SelectMany(p => p.AcquiredRecords.Select(r => (r.FirstOffset, r.LastOffset, r.DeliveryCount)))];
    }

    /// <summary>The record values a response carries for a partition, restricted to the acquired offsets.</summary>
    public static List<string> Values(ShareFetchResponse response, int partition = 0) => global::Tributary.Tests.Shared.ShareGroups.ShareFetchRecords.Values(response, partition);

    public static short AckError(ShareFetchResponse response, int partition = 0) =>
        response.Responses.SelectMany(t => t.Partitions).Single(p => p.PartitionIndex == partition).AcknowledgeErrorCode;

    public static short AckError(ShareAcknowledgeResponse response, int partition = 0)
    {
        Assert.Equal(0, response.ErrorCode);
        return response.Responses.SelectMany(t => t.Partitions).Single(p => p.PartitionIndex == partition).ErrorCode;
    }

    public void Dispose() => _broker.Dispose();
}

/// <summary>Acknowledge types as the tests name them (Kafka's numbers).</summary>
internal enum AcknowledgeKind : sbyte
{
    Gap = 0,
    Accept = 1,
    Release = 2,
    Reject = 3,
    Renew = 4,
}
