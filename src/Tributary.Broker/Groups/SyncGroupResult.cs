using Tributary.Protocol;

namespace Tributary.Broker.Groups;

/// <summary>The answer to one SyncGroup: the member's assignment bytes, as the leader wrote them.</summary>
public sealed record SyncGroupResult(ErrorCode Error, string? ProtocolType, string? ProtocolName, byte[] Assignment)
{
    public static SyncGroupResult Failed(ErrorCode error) => new(error, null, null, []);
}
