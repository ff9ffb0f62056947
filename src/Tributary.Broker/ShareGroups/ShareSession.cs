namespace Tributary.Broker.ShareGroups;

/// <summary>
/// A share session (KIP-932): the partitions one member fetches from, and the epoch its next ShareFetch or
/// ShareAcknowledge must carry (1 after the request with epoch 0 that opened it; after Int32.MaxValue comes 1).
/// </summary>
internal sealed class ShareSession(string groupId, string memberId)
{
    public string GroupId { get; } = groupId;

    public string MemberId { get; } = memberId;

    public int NextEpoch { get; private set; } = 1;

    /// <summary>When the session was last opened or used (its eviction when the cache is full).</summary>
    public long LastUsedMs { get; set; }

    /// <summary>The session's partitions in the order they were added.</summary>
    public List<(Guid TopicId, int Partition)> Partitions { get; } = [];

    public void Add(Guid topicId, int partition)
    {
        if (!Partitions.Contains((topicId, partition)))
        {
            Partitions.Add((topicId, partition));
        }
    }

    public void Forget(Guid topicId, int partition) => Partitions.Remove((topicId, partition));

    public void Advance() => NextEpoch = NextEpoch == int.MaxValue ? 1 : NextEpoch + 1;
}
