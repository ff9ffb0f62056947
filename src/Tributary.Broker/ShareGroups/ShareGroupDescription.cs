namespace Tributary.Broker.ShareGroups;

/// <summary>A share group as ShareGroupDescribe reports it.</summary>
public sealed record ShareGroupDescription(string GroupId, string State, int GroupEpoch, int AssignmentEpoch, IReadOnlyList<ShareGroupMemberDescription> Members);
