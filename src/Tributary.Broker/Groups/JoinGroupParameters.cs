namespace Tributary.Broker.Groups;

/// <summary>
/// A JoinGroup request as the coordinator needs it. <paramref name="RequireKnownMemberId"/> is true from v4
/// (KIP-394); <paramref name="SupportsSkipAssignment"/> from v9 (KIP-814).
/// </summary>
public sealed record JoinGroupParameters(
    string GroupId,
    string MemberId,
    string? GroupInstanceId,
    string ClientId,
    string ClientHost,
    int SessionTimeoutMs,
    int RebalanceTimeoutMs,
    string ProtocolType,
    IReadOnlyList<(string Name, byte[] Metadata)> Protocols,
    bool RequireKnownMemberId,
    bool SupportsSkipAssignment);
