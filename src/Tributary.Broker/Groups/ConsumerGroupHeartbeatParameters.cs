namespace Tributary.Broker.Groups;

/// <summary>A ConsumerGroupHeartbeat request as the coordinator sees it; null fields mean "unchanged since the last heartbeat".</summary>
public sealed record ConsumerGroupHeartbeatParameters(
    string GroupId,
    string MemberId,
    int MemberEpoch,
    string? InstanceId,
    string? RackId,
    int RebalanceTimeoutMs,
    IReadOnlyList<string>? SubscribedTopicNames,
    string? SubscribedTopicRegex,
    string? ServerAssignor,
    IReadOnlyList<(Guid TopicId, IReadOnlyList<int> Partitions)>? TopicPartitions,
    string ClientId,
    string ClientHost,
    bool ClientChoosesMemberId);
