using System.Collections.Concurrent;
using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Mvccpb;

namespace Tributary.Broker.Cluster;

// A broker's incarnation (Kafka's broker epoch) is the etcd revision that created its brokers/<id> key, new with every
// registration. A broker that registers anew was restarted (or cut off past its lease) and may have lost its log, as a
// KRaft broker registering with a new incarnation id: until the controller has taken it in it may neither lead nor be
// added to an ISR, so elections drop it from every ISR and move its leaderships (leader epoch + 1). Once no live
// partition has it as leader or ISR member, the controller records the incarnation under admitted/<id>; the broker then
// follows, catches up and rejoins the ISR. The record lives in etcd, so a new controller does not fence it again.
// The record also keeps the broker's data directory id: one that comes back with another id lost its disk, so it also
// leaves the ISR an offline partition kept for it (unclean leader election stays off: the partition stays offline
// rather than be led by an empty log).
public sealed partial class ClusterNode
{
    private readonly ConcurrentDictionary<int, long> _incarnations = new();
    private readonly ConcurrentDictionary<int, BrokerAdmission> _admitted = new();
    private readonly Guid _directoryId;

    // Leaderships this broker found in the metadata when it registered: an earlier incarnation led them at that epoch,
    // with a log this one may not have. It does not act on them; the controller gives them a new epoch.
    private readonly ConcurrentDictionary<(string Topic, int Partition), int> _inherited = new();
    private bool _loaded;

    /// <summary>Whether the broker is live and the controller has taken in its current registration: it may lead and join ISRs.</summary>
    public bool IsAdmitted(int nodeId) =>
        _incarnations.TryGetValue(nodeId, out var incarnation) && _admitted.TryGetValue(nodeId, out var admitted) && admitted.Incarnation == incarnation;

    private void ApplyIncarnation(int nodeId, KeyValue? kv)
    {
        if (kv is null)
        {
            _incarnations.TryRemove(nodeId, out _);
        }
        else
        {
            _incarnations[nodeId] = kv.CreateRevision;
        }
    }

    private void ApplyAdmitted(int nodeId, KeyValue? kv)
    {
        if (kv is not null && JsonSerializer.Deserialize(kv.Value.Span, ClusterJson.Default.BrokerAdmission) is { } admission)
        {
            _admitted[nodeId] = admission;
        }
        else
        {
            _admitted.TryRemove(nodeId, out _);
        }
    }

    private void NoteInherited(PartitionState state)
    {
        if (!_loaded && state.Leader == LocalNodeId)
        {
            _inherited[(state.Topic, state.Partition)] = state.LeaderEpoch;
        }
    }

    private bool IsInherited(PartitionState state) =>
        state.Leader == LocalNodeId && _inherited.TryGetValue((state.Topic, state.Partition), out var epoch) && epoch == state.LeaderEpoch;

    /// <summary>
    /// Admits each live broker of a new incarnation that no partition has as leader, nor as ISR member of a partition
    /// with a leader (an offline partition keeps its last ISR, so the member that comes back leads it again, unless
    /// it lost its disk: see <see cref="LeaveOfflineIsrsAsync"/>).
    /// </summary>
    private async Task AdmitAsync(IReadOnlyList<PartitionState> states, CancellationToken cancellationToken)
    {
        foreach (var (nodeId, incarnation) in _incarnations)
        {
            if (IsAdmitted(nodeId) || !_brokers.TryGetValue(nodeId, out var broker)
                || states.Any(s => s.Leader == nodeId || (s.Leader != -1 && s.Isr.Contains(nodeId))))
            {
                continue;
            }

            var revision = Volatile.Read(ref _controllerRevision);
            if (revision == 0)
            {
                return;
            }

            if (_admitted.TryGetValue(nodeId, out var last) && last.DirectoryId != broker.DirectoryId && last.DirectoryId != Guid.Empty
                && !await LeaveOfflineIsrsAsync(nodeId, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }

            var admission = JsonSerializer.Serialize(new BrokerAdmission(incarnation, broker.DirectoryId), ClusterJson.Default.BrokerAdmission);
            var response = await _kv.TxnAsync(new TxnRequest
            {
                Compare = { new Compare { Key = ByteString.CopyFromUtf8(_keys.Controller), Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = revision } },
                Success = { new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(_keys.Admitted(nodeId)), Value = ByteString.CopyFromUtf8(admission) } } },
            }, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
            if (response.Succeeded)
            {
                LogAdmitted(_logger, nodeId, incarnation);
            }
        }
    }

    /// <summary>
    /// A broker back with another data directory lost the log it had: it leaves the ISR of every offline partition
    /// (leader -1), which elections would otherwise let it lead again from an empty log. A partition whose only ISR
    /// member it was stays offline with an empty ISR: only an unclean election (the topic's setting, or ElectLeaders)
    /// brings it back. False when a write lost a race; the next pass retries.
    /// </summary>
    private async Task<bool> LeaveOfflineIsrsAsync(int nodeId, CancellationToken cancellationToken)
    {
        foreach (var (key, versioned) in _partitions)
        {
            var state = versioned.Value;
            if (state.Leader != -1 || !state.Isr.Contains(nodeId))
            {
                continue;
            }

            var next = state with { Isr = [.. state.Isr.Where(r => r != nodeId)], PartitionEpoch = state.PartitionEpoch + 1 };
            if (!await WriteStateAsync(key, versioned.ModRevision, next, controllerFenced: true, cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            LogLeftOfflineIsr(_logger, state.Topic, state.Partition, nodeId, string.Join(",", next.Isr));
        }

        return true;
    }

    [LoggerMessage(EventId = 990, Level = LogLevel.Information, Message = "Broker {NodeId} admitted at incarnation {Incarnation}: it left every ISR and leads nothing of an earlier incarnation")]
    private static partial void LogAdmitted(ILogger logger, int nodeId, long incarnation);

    [LoggerMessage(EventId = 992, Level = LogLevel.Warning, Message = "{Topic}-{Partition}: broker {NodeId} came back with a new data directory (its log is lost) and leaves the ISR of the offline partition, now [{Isr}]")]
    private static partial void LogLeftOfflineIsr(ILogger logger, string topic, int partition, int nodeId, string isr);

    [LoggerMessage(EventId = 991, Level = LogLevel.Warning, Message = "{Topic}-{Partition}: not leading at epoch {LeaderEpoch}, which an earlier incarnation of this broker led; waiting for the controller to move it")]
    private static partial void LogInherited(ILogger logger, string topic, int partition, int leaderEpoch);
}
