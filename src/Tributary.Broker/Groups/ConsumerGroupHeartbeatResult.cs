using Tributary.Protocol;

namespace Tributary.Broker.Groups;

/// <summary>The answer to a ConsumerGroupHeartbeat; <see cref="Assignment"/> is null when it did not change since the last answer.</summary>
public sealed record ConsumerGroupHeartbeatResult(
    ErrorCode Error,
    string? ErrorMessage,
    string? MemberId,
    int MemberEpoch,
    int HeartbeatIntervalMs,
    IReadOnlyList<(Guid TopicId, int[] Partitions)>? Assignment)
{
    public static ConsumerGroupHeartbeatResult Failed(ErrorCode error, string message, string? memberId = null, int memberEpoch = 0) =>
        new(error, message, memberId, memberEpoch, 0, null);
}
