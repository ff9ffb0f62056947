namespace Tributary.Broker.Cluster;

/// <summary>
/// What a leader knows of one follower, from its fetches (Kafka's Replica state): its log end offset (the offset it
/// fetches from), and when it was last caught up with the leader's log end, which decides whether it stays in the ISR.
/// </summary>
internal sealed class FollowerProgress(long nowMs)
{
    /// <summary>-1 until the follower's first fetch in this leader epoch.</summary>
    public long LogEndOffset { get; set; } = -1;

    public long LastCaughtUpMs { get; set; } = nowMs;

    public long LastFetchMs { get; set; } = -1;

    /// <summary>The leader's log end offset when the previous fetch came.</summary>
    public long LeaderEndOffsetAtLastFetch { get; set; } = -1;

    /// <summary>
    /// Kafka's updateFetchState: a fetch from at least the leader's log end means caught up now; one from at least the
    /// leader's log end at the previous fetch means caught up as of that fetch.
    /// </summary>
    public void OnFetch(long fetchOffset, long leaderEndOffset, long nowMs)
    {
        if (fetchOffset >= leaderEndOffset)
        {
            LastCaughtUpMs = Math.Max(LastCaughtUpMs, nowMs);
        }
        else if (fetchOffset >= LeaderEndOffsetAtLastFetch && LastFetchMs >= 0)
        {
            LastCaughtUpMs = Math.Max(LastCaughtUpMs, LastFetchMs);
        }

        LogEndOffset = fetchOffset;
        LeaderEndOffsetAtLastFetch = leaderEndOffset;
        LastFetchMs = nowMs;
    }
}
