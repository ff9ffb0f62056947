using System.Globalization;
using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Mvccpb;

namespace Tributary.Broker.Cluster;

// The controller: one broker at a time holds the controller key, put under its lease (an election: whoever creates
// the key first wins; it goes when that lease ends). The controller moves leadership off brokers whose lease ended
// and drops them from ISRs. Its every write also compares the controller key's revision, so a deposed controller that
// has not noticed yet changes nothing.
public sealed partial class ClusterNode
{
    private static readonly TimeSpan ControllerPassMax = TimeSpan.FromSeconds(1);

    // The revision at which this broker's controller key was created; 0 while it is not the controller.
    private long _controllerRevision;

    /// <summary>True while this broker holds the controller key under its current lease.</summary>
    public bool IsController => Volatile.Read(ref _controllerRevision) != 0;

    private void ApplyController(KeyValue? kv)
    {
        if (kv is null)
        {
            ControllerId = -1;
            Volatile.Write(ref _controllerRevision, 0);
            return;
        }

        ControllerId = int.Parse(kv.Value.ToStringUtf8(), CultureInfo.InvariantCulture);
        var mine = ControllerId == LocalNodeId && kv.Lease == Volatile.Read(ref _leaseId);
        Volatile.Write(ref _controllerRevision, mine ? kv.CreateRevision : 0);
        if (mine)
        {
            LogController(_logger, LocalNodeId);
        }
    }

    // Campaigns while there is no controller; as the controller, reconciles after every change the watch applies
    // (and at least every second, so a failed write is tried again).
    private async Task ControllerLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (ControllerId == -1)
                {
                    await CampaignAsync(cancellationToken).ConfigureAwait(false);
                }
                else if (IsController)
                {
                    await ReconcileAsync(cancellationToken).ConfigureAwait(false);
                    await RebalanceLeadersIfDueAsync(cancellationToken).ConfigureAwait(false);
                }

                await _changed.WaitAsync(ControllerPassMax, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException e)
            {
                LogControllerFailed(_logger, e.Status.Detail);
                await Delay(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task CampaignAsync(CancellationToken cancellationToken)
    {
        var key = ByteString.CopyFromUtf8(_keys.Controller);
        await _kv.TxnAsync(new TxnRequest
        {
            Compare = { new Compare { Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 } },
            Success = { new RequestOp { RequestPut = new PutRequest { Key = key, Value = ByteString.CopyFromUtf8(LocalNodeId.ToString(CultureInfo.InvariantCulture)), Lease = Volatile.Read(ref _leaseId) } } },
        }, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);

        // Won or lost, the watch brings the key, and with it IsController.
    }

    private async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        var states = new List<PartitionState>(_partitions.Count);
        foreach (var (key, versioned) in _partitions)
        {
            // Elections first; a reassignment whose adding replicas are in sync completes on a pass without one.
            var state = versioned.Value;
            if ((Elect(state) ?? CompleteReassignment(state)) is { } next)
            {
                if (await WriteStateAsync(key, versioned.ModRevision, next, controllerFenced: true, cancellationToken).ConfigureAwait(false))
                {
                    LogElected(_logger, next.Topic, next.Partition, next.Leader, next.LeaderEpoch, string.Join(",", next.Isr));
                    state = next;
                }
            }

            states.Add(state);
        }

        await AdmitAsync(states, cancellationToken).ConfigureAwait(false);

        foreach (var (name, versioned) in _topics)
        {
            await RepairMissingPartitionsAsync(name, versioned.Value, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The partition's next state when brokers in it are no longer live (or not admitted: a new incarnation, see
    /// ClusterNode.Incarnations.cs) or are in controlled shutdown, else null. A
    /// dead leader is replaced by the first eligible ISR member in replica order (leader epoch + 1); dead members
    /// leave the ISR. A broker in controlled shutdown gives up leadership and leaves the ISR when another live member
    /// can take its place (as KRaft's controller does), else keeps both until its lease goes. With no ISR member live
    /// the partition goes offline (leader -1) keeping its last ISR, so the member that comes back first leads again,
    /// unless unclean.leader.election.enable lets any live replica lead.
    /// </summary>
    private PartitionState? Elect(PartitionState state)
    {
        var liveIsr = state.Replicas.Where(r => state.Isr.Contains(r) && IsAdmitted(r)).ToArray();
        var eligible = liveIsr.Where(r => !IsShuttingDown(r)).ToArray();
        var isr = eligible.Length > 0 ? eligible : liveIsr;
        if (state.Leader != -1 && isr.Contains(state.Leader))
        {
            return isr.Length == state.Isr.Length ? null
                : state with { Isr = isr, PartitionEpoch = state.PartitionEpoch + 1 };
        }

        if (isr.Length > 0)
        {
            return state with { Leader = isr[0], LeaderEpoch = state.LeaderEpoch + 1, Isr = isr, PartitionEpoch = state.PartitionEpoch + 1 };
        }

        if (UncleanElection(state.Topic) && state.Replicas.Where(r => IsAdmitted(r) && !IsShuttingDown(r)).ToArray() is [var unclean, ..])
        {
            return state with { Leader = unclean, LeaderEpoch = state.LeaderEpoch + 1, Isr = [unclean], PartitionEpoch = state.PartitionEpoch + 1 };
        }

        return state.Leader == -1 ? null
            : state with { Leader = -1, LeaderEpoch = state.LeaderEpoch + 1, PartitionEpoch = state.PartitionEpoch + 1 };
    }

    private bool UncleanElection(string topic) =>
        _topics.TryGetValue(topic, out var t) && t.Value.Configs.TryGetValue("unclean.leader.election.enable", out var value)
            ? value == "true"
            : _core.Config.UncleanLeaderElectionEnable;

    /// <summary>Writes a partition's state if its key is still at <paramref name="modRevision"/> (0: if it does not exist).</summary>
    private async Task<bool> WriteStateAsync((string Topic, int Partition) key, long modRevision, PartitionState next, bool controllerFenced, CancellationToken cancellationToken)
    {
        var stateKey = ByteString.CopyFromUtf8(_keys.Partition(key.Topic, key.Partition));
        var txn = new TxnRequest
        {
            Compare = { modRevision == 0
                ? new Compare { Key = stateKey, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 }
                : new Compare { Key = stateKey, Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = modRevision } },
            Success = { new RequestOp { RequestPut = new PutRequest { Key = stateKey, Value = ByteString.CopyFromUtf8(JsonSerializer.Serialize(next, ClusterJson.Default.PartitionState)) } } },
        };
        if (controllerFenced)
        {
            var revision = Volatile.Read(ref _controllerRevision);
            if (revision == 0)
            {
                return false;
            }

            txn.Compare.Add(new Compare { Key = ByteString.CopyFromUtf8(_keys.Controller), Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = revision });
        }

        var response = await _kv.TxnAsync(txn, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
        return response.Succeeded;
    }

    /// <summary>
    /// Creates the states of a topic's partitions that have none: a broker that created the topic or added
    /// partitions died between its transactions (large topics are written in several, etcd's limit on operations per
    /// transaction being 128 by default).
    /// </summary>
    private async Task RepairMissingPartitionsAsync(string name, ClusterTopic topic, CancellationToken cancellationToken)
    {
        var missing = Enumerable.Range(0, topic.PartitionCount).Where(p => !_partitions.ContainsKey((name, p))).ToList();
        if (missing.Count == 0 || _brokers.IsEmpty)
        {
            return;
        }

        var factor = _partitions.Where(p => p.Key.Topic == name).Select(p => p.Value.Value.Replicas.Length).DefaultIfEmpty(_core.Config.DefaultReplicationFactor).First();
        var brokers = LiveBrokers;
        var assigned = ReplicaAssigner.Assign(brokers, 0, topic.PartitionCount, Math.Min(factor, brokers.Count), 0);
        foreach (var p in missing)
        {
            var replicas = assigned[p];
            await WriteStateAsync((name, p), 0, new PartitionState(name, topic.Id, p, replicas, replicas[0], 0, replicas, 0), controllerFenced: true, cancellationToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 962, Level = LogLevel.Information, Message = "Broker {NodeId} is the controller")]
    private static partial void LogController(ILogger logger, int nodeId);

    [LoggerMessage(EventId = 963, Level = LogLevel.Information, Message = "{Topic}-{Partition}: leader {Leader} at epoch {LeaderEpoch}, ISR [{Isr}]")]
    private static partial void LogElected(ILogger logger, string topic, int partition, int leader, int leaderEpoch, string isr);

    [LoggerMessage(EventId = 964, Level = LogLevel.Warning, Message = "A controller pass failed: {Reason}; retrying")]
    private static partial void LogControllerFailed(ILogger logger, string reason);
}
