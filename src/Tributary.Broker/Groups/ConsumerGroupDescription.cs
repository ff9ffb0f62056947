namespace Tributary.Broker.Groups;

/// <summary>A consumer-protocol group as ConsumerGroupDescribe shows it.</summary>
public sealed record ConsumerGroupDescription(
    string GroupId,
    ConsumerGroupState State,
    int GroupEpoch,
    int AssignmentEpoch,
    string AssignorName,
    IReadOnlyList<ConsumerGroupMemberDescription> Members);
