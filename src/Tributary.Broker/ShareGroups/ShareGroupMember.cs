namespace Tributary.Broker.ShareGroups;

/// <summary>
/// A member of a share group. <see cref="Assignment"/> is what it was last told; <see cref="Target"/> what the group's
/// latest assignment gives it, handed over (with the group's assignment epoch as its epoch) at its next heartbeat.
/// </summary>
internal sealed class ShareGroupMember(string memberId)
{
    public string MemberId { get; } = memberId;

    public int Epoch { get; set; }

    /// <summary>The epoch before the last bump (ShareGroupCurrentMemberAssignment's PreviousMemberEpoch).</summary>
    public int PreviousEpoch { get; set; }

    public string? RackId { get; set; }

    public string ClientId { get; set; } = "";

    public string ClientHost { get; set; } = "";

    public IReadOnlyList<string> SubscribedTopicNames { get; set; } = [];

    public long SessionDeadlineMs { get; set; }

    public IReadOnlyDictionary<Guid, int[]> Assignment { get; set; } = new Dictionary<Guid, int[]>();

    public IReadOnlyDictionary<Guid, int[]> Target { get; set; } = new Dictionary<Guid, int[]>();
}
