using Grpc.Core;
using Tributary.Protocol;

namespace Tributary.Broker.Cluster;

// ElectLeaders and partition reassignments (KIP-455). The broker taking the request writes the partition's next state
// as a compare-and-swap on its revision, as AlterIsr does, so it cannot undo a concurrent change: an election's new
// leader, or a reassignment's target (replicas = target then the ones being removed, with adding_replicas and
// removing_replicas, as Kafka's partition record holds them). The controller completes a reassignment once every
// adding replica is in the ISR (CompleteReassignment): the removed replicas go, and the leadership moves when the
// leader was one of them.
public sealed partial class ClusterNode
{
    private const int ChangeAttemptsMax = 3;
    private static readonly TimeSpan ChangeRetryDelay = TimeSpan.FromMilliseconds(100);

    /// <summary>The partitions with a reassignment in progress, as this broker last saw them.</summary>
    public IReadOnlyList<PartitionState> Reassigning => [.. _partitions.Values.Select(v => v.Value).Where(InReassignment)
        .OrderBy(s => s.Topic, StringComparer.Ordinal).ThenBy(s => s.Partition)];

    public static bool InReassignment(PartitionState state) => state.AddingReplicas is { Length: > 0 } || state.RemovingReplicas is { Length: > 0 };

    /// <summary>
    /// ElectLeaders for one partition. Preferred: the first replica leads if it is live and in sync
    /// (PREFERRED_LEADER_NOT_AVAILABLE otherwise, ELECTION_NOT_NEEDED when it leads). Unclean (KIP-460): only a
    /// partition without a live leader, led by a live ISR member if there is one, else any live replica
    /// (ELIGIBLE_LEADERS_NOT_AVAILABLE when none is live).
    /// </summary>
    public Task<(ErrorCode Error, string? Message)> ElectLeaderAsync(string topic, int partition, bool unclean, CancellationToken cancellationToken) =>
        ChangePartitionAsync(topic, partition, state => unclean ? ElectUnclean(state) : ElectPreferred(state), cancellationToken);

    /// <summary>
    /// AlterPartitionReassignments for one partition: <paramref name="target"/> becomes its replica set once the
    /// replicas it adds have caught up; null cancels the reassignment in progress (NO_REASSIGNMENT_IN_PROGRESS when
    /// there is none), going back to the replicas from before it.
    /// </summary>
    public Task<(ErrorCode Error, string? Message)> ReassignAsync(string topic, int partition, int[]? target, CancellationToken cancellationToken) =>
        ChangePartitionAsync(topic, partition, state => target is null ? CancelReassignment(state) : Reassign(state, target), cancellationToken);

    // Computes the partition's next state from the one held and writes it if the key has not moved; a lost race is
    // tried again from the state the watch brings. A null next state with NONE means nothing to write.
    private async Task<(ErrorCode Error, string? Message)> ChangePartitionAsync(string topic, int partition,
        Func<PartitionState, (PartitionState? Next, ErrorCode Error, string? Message)> change, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            if (!_partitions.TryGetValue((topic, partition), out var held))
            {
                return (ErrorCode.UnknownTopicOrPartition, $"partition {topic}-{partition} does not exist");
            }

            var (next, error, message) = change(held.Value);
            if (next is null || error != ErrorCode.None)
            {
                return (error, message);
            }

            try
            {
                if (await WriteStateAsync((topic, partition), held.ModRevision, next, controllerFenced: false, cancellationToken).ConfigureAwait(false))
                {
                    return (ErrorCode.None, null);
                }
            }
            catch (RpcException e)
            {
                return (ErrorCode.RequestTimedOut, "etcd did not answer: " + e.Status.Detail);
            }

            if (attempt == ChangeAttemptsMax)
            {
                return (ErrorCode.RequestTimedOut, $"partition {topic}-{partition} kept changing; try again");
            }

            await Task.Delay(ChangeRetryDelay, _core.Time, cancellationToken).ConfigureAwait(false);
        }
    }

    private (PartitionState?, ErrorCode, string?) ElectPreferred(PartitionState state)
    {
        var preferred = state.Replicas[0];
        if (state.Leader == preferred)
        {
            return (null, ErrorCode.ElectionNotNeeded, "the preferred replica already leads");
        }

        if (!IsAdmitted(preferred) || IsShuttingDown(preferred) || !state.Isr.Contains(preferred))
        {
            return (null, ErrorCode.PreferredLeaderNotAvailable, $"the preferred replica {preferred} is not live and in sync");
        }

        return (state with { Leader = preferred, LeaderEpoch = state.LeaderEpoch + 1, PartitionEpoch = state.PartitionEpoch + 1 }, ErrorCode.None, null);
    }

    private (PartitionState?, ErrorCode, string?) ElectUnclean(PartitionState state)
    {
        if (state.Leader != -1 && IsLive(state.Leader))
        {
            return (null, ErrorCode.ElectionNotNeeded, "the partition has a live leader");
        }

        var eligible = state.Replicas.Where(r => IsAdmitted(r) && !IsShuttingDown(r)).ToArray();
        var inSync = eligible.Where(state.Isr.Contains).ToArray();
        if (inSync is [var clean, ..])
        {
            return (state with { Leader = clean, LeaderEpoch = state.LeaderEpoch + 1, Isr = inSync, PartitionEpoch = state.PartitionEpoch + 1 }, ErrorCode.None, null);
        }

        return eligible is [var unclean, ..]
            ? (state with { Leader = unclean, LeaderEpoch = state.LeaderEpoch + 1, Isr = [unclean], PartitionEpoch = state.PartitionEpoch + 1 }, ErrorCode.None, null)
            : (null, ErrorCode.EligibleLeadersNotAvailable, "no replica of the partition is live");
    }

    // Kafka's order: the target replicas, then the original ones being removed. A target equal to the current
    // replicas with nothing in progress changes nothing.
    private (PartitionState?, ErrorCode, string?) Reassign(PartitionState state, int[] target)
    {
        if (target.Length == 0 || target.Distinct().Count() != target.Length)
        {
            return (null, ErrorCode.InvalidReplicaAssignment, $"replicas [{string.Join(",", target)}] must be non-empty and without duplicates");
        }

        if (target.FirstOrDefault(id => !_brokers.ContainsKey(id), -1) is var unknown and not -1)
        {
            return (null, ErrorCode.InvalidReplicaAssignment, $"replicas [{string.Join(",", target)}] name broker {unknown}, which is not registered");
        }

        var original = Original(state);
        if (!InReassignment(state) && target.SequenceEqual(state.Replicas))
        {
            return (null, ErrorCode.None, null);
        }

        var removing = original.Except(target).ToArray();
        var next = state with
        {
            Replicas = [.. target, .. removing],
            AddingReplicas = [.. target.Except(original)],
            RemovingReplicas = removing,
            PartitionEpoch = state.PartitionEpoch + 1,
        };
        return (next, ErrorCode.None, null);
    }

    private (PartitionState?, ErrorCode, string?) CancelReassignment(PartitionState state)
    {
        if (!InReassignment(state))
        {
            return (null, ErrorCode.NoReassignmentInProgress, $"no reassignment of {state.Topic}-{state.Partition} is in progress");
        }

        var original = Original(state);
        var isr = original.Where(state.Isr.Contains).ToArray();
        if (isr.Length == 0)
        {
            return (null, ErrorCode.InvalidReplicaAssignment, "no replica of the original assignment is in sync; the reassignment cannot be cancelled");
        }

        var moved = !original.Contains(state.Leader);
        return (state with
        {
            Replicas = original,
            Isr = isr,
            Leader = moved ? isr[0] : state.Leader,
            LeaderEpoch = moved ? state.LeaderEpoch + 1 : state.LeaderEpoch,
            AddingReplicas = null,
            RemovingReplicas = null,
            PartitionEpoch = state.PartitionEpoch + 1,
        }, ErrorCode.None, null);
    }

    private static int[] Original(PartitionState state) => [.. state.Replicas.Except(state.AddingReplicas ?? [])];

    /// <summary>
    /// The controller's part of a reassignment: once every adding replica is in the ISR, the replicas become the target
    /// and the removed ones leave the ISR; a removed leader hands over to the first live in-sync target replica
    /// (leader epoch + 1). Null while the adding replicas catch up, or when no target replica could lead yet.
    /// </summary>
    private PartitionState? CompleteReassignment(PartitionState state)
    {
        if (!InReassignment(state) || (state.AddingReplicas ?? []).Any(r => !state.Isr.Contains(r)))
        {
            return null;
        }

        var target = state.Replicas.Except(state.RemovingReplicas ?? []).ToArray();
        var isr = target.Where(state.Isr.Contains).ToArray();
        var leader = target.Contains(state.Leader) ? state.Leader : isr.FirstOrDefault(r => IsAdmitted(r) && !IsShuttingDown(r), -1);
        if (leader == -1)
        {
            return null;
        }

        return state with
        {
            Replicas = target,
            Isr = isr,
            Leader = leader,
            LeaderEpoch = leader == state.Leader ? state.LeaderEpoch : state.LeaderEpoch + 1,
            AddingReplicas = null,
            RemovingReplicas = null,
            PartitionEpoch = state.PartitionEpoch + 1,
        };
    }
}
