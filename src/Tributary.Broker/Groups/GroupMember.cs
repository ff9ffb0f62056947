namespace Tributary.Broker.Groups;

/// <summary>
/// One member of a classic group. Mutable, and only touched under its group's lock. A member "awaits join" while
/// its JoinGroup is parked until the rebalance completes, and "awaits sync" while its SyncGroup waits for the
/// leader's assignment.
/// </summary>
internal sealed class GroupMember(string memberId, string? groupInstanceId)
{
    public string MemberId { get; set; } = memberId;

    public string? GroupInstanceId { get; } = groupInstanceId;

    public string ClientId { get; set; } = "";

    public string ClientHost { get; set; } = "";

    public int SessionTimeoutMs { get; set; }

    public int RebalanceTimeoutMs { get; set; }

    /// <summary>The protocols the member supports, in its order of preference.</summary>
    public IReadOnlyList<(string Name, byte[] Metadata)> Protocols { get; set; } = [];

    public byte[] Assignment { get; set; } = [];

    public long SessionDeadlineMs { get; set; }

    public TaskCompletionSource<JoinGroupResult>? JoinWaiter { get; set; }

    public TaskCompletionSource<SyncGroupResult>? SyncWaiter { get; set; }

    /// <summary>Whether JoinGroup had this member's API version at v9+ (KIP-814), for a static leader rejoining.</summary>
    public bool SupportsSkipAssignment { get; set; }

    public bool AwaitingJoin => JoinWaiter is not null;

    public byte[] MetadataFor(string? protocol)
    {
        foreach (var (name, metadata) in Protocols)
        {
            if (name == protocol)
            {
                return metadata;
            }
        }

        return [];
    }

    public bool Supports(string protocol)
    {
        foreach (var (name, _) in Protocols)
        {
            if (name == protocol)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Same protocols with the same metadata in the same order: a rejoin that changes nothing.</summary>
    public bool Matches(IReadOnlyList<(string Name, byte[] Metadata)> protocols)
    {
        if (protocols.Count != Protocols.Count)
        {
            return false;
        }

        for (var i = 0; i < protocols.Count; i++)
        {
            if (protocols[i].Name != Protocols[i].Name || !protocols[i].Metadata.AsSpan().SequenceEqual(Protocols[i].Metadata))
            {
                return false;
            }
        }

        return true;
    }

    public void CompleteJoin(JoinGroupResult result)
    {
        JoinWaiter?.TrySetResult(result);
        JoinWaiter = null;
    }

    public void CompleteSync(SyncGroupResult result)
    {
        SyncWaiter?.TrySetResult(result);
        SyncWaiter = null;
    }
}
