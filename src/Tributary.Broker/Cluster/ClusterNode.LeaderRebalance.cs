using Microsoft.Extensions.Logging;
using Tributary.Protocol;

namespace Tributary.Broker.Cluster;

// Automatic preferred-leader rebalancing, as Kafka's controller does it (auto.leader.rebalance.enable): every
// leader.imbalance.check.interval.seconds the controller counts, for each broker, the partitions whose preferred
// replica (the first) it is but which another broker leads; when that share is above
// leader.imbalance.per.broker.percentage and the broker is live and not shutting down, each such partition in which it
// is in sync (and which is not being reassigned) gets a preferred leader election.
public sealed partial class ClusterNode
{
    // When the next check is due (ms); 0 until this broker first runs a controller pass, which sets it one interval on.
    private long _nextRebalanceCheckMs;

    private async Task RebalanceLeadersIfDueAsync(CancellationToken cancellationToken)
    {
        var config = _core.Config;
        var nowMs = _core.NowMs;
        var intervalMs = config.LeaderImbalanceCheckIntervalSeconds * 1000;
        if (!config.AutoLeaderRebalanceEnable)
        {
            return;
        }

        if (_nextRebalanceCheckMs == 0 || nowMs < _nextRebalanceCheckMs)
        {
            _nextRebalanceCheckMs = _nextRebalanceCheckMs == 0 ? nowMs + intervalMs : _nextRebalanceCheckMs;
            return;
        }

        _nextRebalanceCheckMs = nowMs + intervalMs;
        foreach (var preferred in _partitions.Values.Select(v => v.Value).Where(s => s.Replicas.Length > 0).GroupBy(s => s.Replicas[0]))
        {
            var broker = preferred.Key;
            var ledByOthers = preferred.Where(s => s.Leader != broker).ToList();
            if (ledByOthers.Count * 100L <= (long)config.LeaderImbalancePerBrokerPercentage * preferred.Count() || !IsLive(broker) || IsShuttingDown(broker))
            {
                continue;
            }

            foreach (var state in ledByOthers.Where(s => s.Isr.Contains(broker) && !InReassignment(s)))
            {
                var (error, _) = await ElectLeaderAsync(state.Topic, state.Partition, unclean: false, cancellationToken).ConfigureAwait(false);
                if (error == ErrorCode.None)
                {
                    LogRebalanced(_logger, state.Topic, state.Partition, broker);
                }
            }
        }
    }

    [LoggerMessage(EventId = 987, Level = LogLevel.Information, Message = "{Topic}-{Partition}: leadership moved back to its preferred replica {Broker} (auto.leader.rebalance.enable)")]
    private static partial void LogRebalanced(ILogger logger, string topic, int partition, int broker);
}
