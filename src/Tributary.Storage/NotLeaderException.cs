namespace Tributary.Storage;

/// <summary>
/// A client append to a replicated partition this broker follows (or stopped leading after the caller checked): only
/// the leader's batches, through <see cref="PartitionLog.AppendReplicated"/>, may land in a follower's log. Produce
/// answers NOT_LEADER_OR_FOLLOWER.
/// </summary>
public sealed class NotLeaderException(string topic, int partition)
    : InvalidOperationException($"this broker does not lead {topic}-{partition}");
