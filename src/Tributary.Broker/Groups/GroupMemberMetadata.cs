namespace Tributary.Broker.Groups;

/// <summary>A member as the leader sees it in its JoinGroup response: its metadata for the selected protocol.</summary>
public sealed record GroupMemberMetadata(string MemberId, string? GroupInstanceId, byte[] Metadata);
