namespace Tributary.Broker.ShareGroups;

/// <summary>A ShareGroupHeartbeat request as the coordinator needs it, with the client's id and address.</summary>
public sealed record ShareGroupHeartbeatParameters(
    string GroupId,
    string MemberId,
    int MemberEpoch,
    string? RackId,
    IReadOnlyList<string>? SubscribedTopicNames,
    string ClientId,
    string ClientHost);
