namespace Tributary.Broker.Groups;

/// <summary>
/// Who commits offsets to a group: the group and the member and generation the commit names (generation -1 and an
/// empty member id for a commit from outside the group's membership, such as TxnOffsetCommit v0-2).
/// </summary>
public readonly record struct OffsetCommitter(string GroupId, int GenerationId, string MemberId, string? GroupInstanceId);
