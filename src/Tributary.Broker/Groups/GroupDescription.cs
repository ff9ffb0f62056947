namespace Tributary.Broker.Groups;

/// <summary>A group as DescribeGroups shows it. <see cref="ProtocolName"/> is empty unless the group is Stable.</summary>
public sealed record GroupDescription(string GroupId, GroupState State, string ProtocolType, string ProtocolName, IReadOnlyList<GroupMemberDescription> Members);
