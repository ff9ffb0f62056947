namespace Tributary.Broker.Groups;

/// <summary>A SyncGroup request: <see cref="Assignments"/> is only read from the leader.</summary>
public sealed record SyncGroupParameters(
    string GroupId,
    int GenerationId,
    string MemberId,
    string? GroupInstanceId,
    string? ProtocolType,
    string? ProtocolName,
    IReadOnlyDictionary<string, byte[]> Assignments);
