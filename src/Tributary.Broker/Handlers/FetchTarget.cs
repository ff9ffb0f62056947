namespace Tributary.Broker.Handlers;

/// <summary>
/// One partition a fetch reads: from the request itself, or from its fetch session. A topic is named by
/// <paramref name="TopicId"/> from Fetch v13 (<paramref name="Topic"/> is then empty), by name below it (the id is empty).
/// <paramref name="CurrentLeaderEpoch"/> is the leader epoch the fetcher believes current (-1: none), checked in a cluster;
/// <paramref name="LastFetchedEpoch"/> a follower's epoch of its last batch (Fetch v12+), checked against the leader's log.
/// A fetch session keeps neither (-1).
/// </summary>
public readonly record struct FetchTarget(string Topic, Guid TopicId, int Partition, long FetchOffset, int PartitionMaxBytes, int CurrentLeaderEpoch = -1, int LastFetchedEpoch = -1)
{
    public FetchSessionKey Key => new(Topic, TopicId, Partition);
}
