namespace Tributary.Broker.Groups;

/// <summary>One member in ConsumerGroupDescribe: its current and target assignments as (topic id, topic name, partitions).</summary>
public sealed record ConsumerGroupMemberDescription(
    string MemberId,
    string? InstanceId,
    string? RackId,
    int MemberEpoch,
    string ClientId,
    string ClientHost,
    IReadOnlyList<string> SubscribedTopicNames,
    string? SubscribedTopicRegex,
    IReadOnlyList<(Guid TopicId, string TopicName, int[] Partitions)> Assignment,
    IReadOnlyList<(Guid TopicId, string TopicName, int[] Partitions)> TargetAssignment);
