namespace Tributary.Broker.Groups;

/// <summary>
/// One member of a <see cref="ConsumerGroup"/>. <see cref="Assigned"/> is what the coordinator has given the member (and
/// sent it); <see cref="PendingRevocation"/> what it was asked to give up and has not yet confirmed, still counted as
/// owned so no other member gets it. <see cref="Reported"/> is what the member last said it owns (TopicPartitions).
/// </summary>
internal sealed class ConsumerGroupMember(string memberId)
{
    public string MemberId { get; set; } = memberId;

    public string? InstanceId { get; set; }

    public string? RackId { get; set; }

    public string ClientId { get; set; } = "";

    public string ClientHost { get; set; } = "";

    public int MemberEpoch { get; set; }

    public int PreviousMemberEpoch { get; set; } = -1;

    /// <summary>A static member that left with epoch -2: it keeps its assignment until its session expires or it returns.</summary>
    public bool LeftStatic { get; set; }

    public int RebalanceTimeoutMs { get; set; }

    public List<string> SubscribedTopicNames { get; set; } = [];

    /// <summary>The member's SubscribedTopicRegex; empty when it has none (as in Kafka, "" clears a regex).</summary>
    public string SubscribedTopicRegex { get; set; } = "";

    public string? ServerAssignor { get; set; }

    public HashSet<(Guid TopicId, int Partition)> Assigned { get; set; } = [];

    public HashSet<(Guid TopicId, int Partition)> PendingRevocation { get; set; } = [];

    public HashSet<(Guid TopicId, int Partition)> Reported { get; set; } = [];

    public long SessionDeadlineMs { get; set; }

    /// <summary>When the member must have confirmed its revocation; it is removed after that (Kafka fences it).</summary>
    public long RevocationDeadlineMs { get; set; } = long.MaxValue;

    /// <summary>Bumped whenever <see cref="Assigned"/> changes, so a heartbeat answers with the assignment only when it is new.</summary>
    public int AssignmentVersion { get; set; }

    public int SentAssignmentVersion { get; set; } = -1;

    /// <summary>The member's metadata record as last written to __consumer_offsets (null: not written yet).</summary>
    public byte[]? PersistedMetadata { get; set; }

    /// <summary>The member's current-assignment record as last written to __consumer_offsets (null: not written yet).</summary>
    public byte[]? PersistedAssignment { get; set; }
}
