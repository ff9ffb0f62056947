using Tributary.Protocol;

namespace Tributary.Broker.ShareGroups;

/// <summary>The answer to a heartbeat; <see cref="Assignment"/> is set when the member's assignment is (re)sent.</summary>
public sealed record ShareGroupHeartbeatResult(
    ErrorCode Error,
    string? ErrorMessage,
    string MemberId,
    int MemberEpoch,
    int HeartbeatIntervalMs,
    IReadOnlyList<(Guid TopicId, int[] Partitions)>? Assignment = null);
