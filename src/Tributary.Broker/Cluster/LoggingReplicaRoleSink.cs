using Microsoft.Extensions.Logging;

namespace Tributary.Broker.Cluster;

/// <summary>
/// The role sink until replication is wired in: logs each state change. The partition's local log already exists
/// (the topic is mirrored into the local metadata first), so a leader serves it as a single replica would.
/// </summary>
public sealed partial class LoggingReplicaRoleSink(ILogger logger, int localNodeId) : IReplicaRoleSink
{
    public Task ApplyAsync(PartitionState state, CancellationToken cancellationToken)
    {
        LogRole(logger, state.Topic, state.Partition, state.Leader == localNodeId ? "leader" : $"follower of {state.Leader}", state.LeaderEpoch);
        return Task.CompletedTask;
    }

    public Task RemoveAsync(string topic, int partition, CancellationToken cancellationToken)
    {
        LogRemoved(logger, topic, partition);
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = 960, Level = LogLevel.Information, Message = "{Topic}-{Partition}: this broker is {Role} at leader epoch {LeaderEpoch}")]
    private static partial void LogRole(ILogger logger, string topic, int partition, string role, int leaderEpoch);

    [LoggerMessage(EventId = 961, Level = LogLevel.Information, Message = "{Topic}-{Partition} is no longer assigned to this broker")]
    private static partial void LogRemoved(ILogger logger, string topic, int partition);
}
