namespace Tributary.Broker.ShareGroups;

/// <summary>A share group member as ShareGroupDescribe reports it.</summary>
public sealed record ShareGroupMemberDescription(
    string MemberId,
    string? RackId,
    int MemberEpoch,
    string ClientId,
    string ClientHost,
    IReadOnlyList<string> SubscribedTopicNames,
    IReadOnlyList<(Guid TopicId, string TopicName, int[] Partitions)> Assignment);
