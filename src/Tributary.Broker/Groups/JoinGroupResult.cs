using Tributary.Protocol;

namespace Tributary.Broker.Groups;

/// <summary>The answer to one JoinGroup: only the leader gets <see cref="Members"/>.</summary>
public sealed record JoinGroupResult(
    ErrorCode Error,
    string MemberId,
    int GenerationId = -1,
    string? ProtocolType = null,
    string? ProtocolName = null,
    string Leader = "",
    bool SkipAssignment = false,
    IReadOnlyList<GroupMemberMetadata>? Members = null)
{
    public static JoinGroupResult Failed(ErrorCode error, string memberId = "") => new(error, memberId);
}
