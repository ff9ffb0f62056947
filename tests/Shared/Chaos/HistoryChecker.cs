namespace Tributary.Tests.Shared.Chaos;

/// <summary>
/// Checks a workload's history against the partitions' final contents, read read_committed from the beginning after
/// the faults ended, in the manner of Jepsen's checkers: every acknowledged write is there exactly once at the
/// acknowledged partition and offset; certainly failed writes and aborted transactions are not; each producer's
/// acknowledged writes keep their order; everything a consumer read is still there at the offset it read it at, and
/// no value of a transaction was read before its end was invoked (consumers read read_committed); and
/// committed offsets never go backwards in real time (an operation invoked after a commit was acknowledged never
/// sees or sets a lower offset). Produce values must be unique across the history. A write acknowledged without an
/// offset (-1: librdkafka acknowledges a batch implicitly when a later batch of its producer to that partition
/// succeeds, the broker having accepted the later sequence only after this one) must be in its partition, and its
/// producer's order is checked at the offset where it is found.
/// </summary>
public static class HistoryChecker
{
    public static CheckResult Check(IReadOnlyList<Operation> history, IReadOnlyDictionary<int, IReadOnlyList<LogEntry>> finalLog)
    {
        var anomalies = new List<Anomaly>();
        var produces = history.Where(o => o.Kind == OperationKind.Produce).ToDictionary(o => o.Value!, StringComparer.Ordinal);
        var transactions = history.Where(o => o.Kind == OperationKind.TransactionEnd).ToDictionary(o => o.Transaction!, o => o.Outcome, StringComparer.Ordinal);
        var present = IndexFinalLog(finalLog, produces, anomalies);

        var (acknowledged, failed, unknown, unknownPresent) = (0, 0, 0, 0);
        foreach (var produce in produces.Values)
        {
            var effective = EffectiveOutcome(produce, transactions);
            var found = present.TryGetValue(produce.Value!, out var at);
            switch (effective)
            {
                case Outcome.Ok:
                    acknowledged++;
                    if (!found)
                    {
                        anomalies.Add(new(AnomalyKind.Lost, $"{produce.Value} acknowledged at {produce.Partition}/{produce.Offset} by {produce.Process}"));
                    }
                    else if (produce.Transaction is null && (at.Partition != produce.Partition || (produce.Offset >= 0 && at.Offset != produce.Offset)))
                    {
                        anomalies.Add(new(AnomalyKind.Moved, $"{produce.Value} acknowledged at {produce.Partition}/{produce.Offset}, found at {at.Partition}/{at.Offset}"));
                    }

                    break;
                case Outcome.Fail when produce.Transaction is not null && transactions.GetValueOrDefault(produce.Transaction) == Outcome.Fail:
                    failed++;
                    if (found)
                    {
                        anomalies.Add(new(AnomalyKind.AbortedRead, $"{produce.Value} of aborted {produce.Transaction} is in the final log at {at.Partition}/{at.Offset}"));
                    }

                    break;
                case Outcome.Fail:
                    failed++;
                    if (found)
                    {
                        anomalies.Add(new(AnomalyKind.FailedWritePresent, $"{produce.Value} failed ({produce.Error}) yet is at {at.Partition}/{at.Offset}"));
                    }

                    break;
                default:
                    unknown++;
                    unknownPresent += found ? 1 : 0;
                    break;
            }
        }

        CheckProducerOrder(produces.Values, transactions, present, anomalies);
        var reads = CheckReads(history, finalLog, produces, transactions, anomalies);
        var commits = CheckCommits(history, anomalies);
        CheckAtomicity(produces.Values, transactions, present, anomalies);
        return new CheckResult(anomalies, acknowledged, failed, unknown, unknownPresent, reads, commits, present.Count);
    }

    // A transactional write counts as acknowledged only if its transaction committed, as failed if it aborted.
    private static Outcome EffectiveOutcome(Operation produce, Dictionary<string, Outcome> transactions)
    {
        if (produce.Transaction is null)
        {
            return produce.Outcome;
        }

        var end = transactions.GetValueOrDefault(produce.Transaction, Outcome.Pending);
        return end switch
        {
            Outcome.Ok => produce.Outcome == Outcome.Ok ? Outcome.Ok : Outcome.Unknown,
            Outcome.Fail => Outcome.Fail,
            _ => Outcome.Unknown,
        };
    }

    private static Dictionary<string, (int Partition, long Offset)> IndexFinalLog(
        IReadOnlyDictionary<int, IReadOnlyList<LogEntry>> finalLog, Dictionary<string, Operation> produces, List<Anomaly> anomalies)
    {
        var present = new Dictionary<string, (int, long)>(StringComparer.Ordinal);
        foreach (var (partition, entries) in finalLog)
        {
            var previous = -1L;
            foreach (var entry in entries)
            {
                if (entry.Offset <= previous)
                {
                    anomalies.Add(new(AnomalyKind.OffsetOrder, $"partition {partition}: offset {entry.Offset} after {previous}"));
                }

                previous = entry.Offset;
                if (!produces.ContainsKey(entry.Value))
                {
                    anomalies.Add(new(AnomalyKind.Phantom, $"{entry.Value} at {partition}/{entry.Offset} was never sent"));
                }
                else if (!present.TryAdd(entry.Value, (partition, entry.Offset)))
                {
                    var first = present[entry.Value];
                    anomalies.Add(new(AnomalyKind.Duplicate, $"{entry.Value} at {first.Item1}/{first.Item2} and again at {partition}/{entry.Offset}"));
                }
            }
        }

        return present;
    }

    private static void CheckProducerOrder(IEnumerable<Operation> produces, Dictionary<string, Outcome> transactions,
        Dictionary<string, (int Partition, long Offset)> present, List<Anomaly> anomalies)
    {
        // A write acknowledged without an offset takes the one it is found at (absent, it is lost: reported already).
        var streams = produces.Where(p => p.Transaction is null && EffectiveOutcome(p, transactions) == Outcome.Ok)
            .Select(p => p.Offset < 0 && present.TryGetValue(p.Value!, out var at) ? p with { Offset = at.Offset } : p)
            .Where(p => p.Offset >= 0)
            .GroupBy(p => (p.Process, p.Partition));
        foreach (var stream in streams)
        {
            Operation? previous = null;
            foreach (var produce in stream.OrderBy(p => p.Invoked).ThenBy(p => p.Id))
            {
                if (previous is not null && produce.Offset <= previous.Offset)
                {
                    anomalies.Add(new(AnomalyKind.ProducerOrder, $"{stream.Key.Process} sent {previous.Value} before {produce.Value}, acknowledged at {previous.Offset} and {produce.Offset} of partition {stream.Key.Partition}"));
                }

                previous = produce;
            }
        }
    }

    private static int CheckReads(IReadOnlyList<Operation> history, IReadOnlyDictionary<int, IReadOnlyList<LogEntry>> finalLog,
        Dictionary<string, Operation> produces, Dictionary<string, Outcome> transactions, List<Anomaly> anomalies)
    {
        var byOffset = finalLog.ToDictionary(p => p.Key, p => p.Value.ToDictionary(e => e.Offset, e => e.Value));
        var endsInvoked = history.Where(o => o.Kind == OperationKind.TransactionEnd).ToDictionary(o => o.Transaction!, o => o.Invoked, StringComparer.Ordinal);
        var count = 0;
        foreach (var read in history.Where(o => o.Kind == OperationKind.Read && o.Outcome == Outcome.Ok))
        {
            count++;
            if (produces.TryGetValue(read.Value!, out var produce) && produce.Transaction is not null
                && transactions.GetValueOrDefault(produce.Transaction) == Outcome.Fail)
            {
                anomalies.Add(new(AnomalyKind.AbortedRead, $"{read.Process} read {read.Value} of aborted {produce.Transaction} at {read.Partition}/{read.Offset}"));
                continue;
            }

            // A commit can only make a value visible after it was asked for: a read before that is a dirty read.
            if (produce?.Transaction is not null && endsInvoked.TryGetValue(produce.Transaction, out var endInvoked) && read.Invoked < endInvoked)
            {
                anomalies.Add(new(AnomalyKind.UncommittedRead, $"{read.Process} read {read.Value} of {produce.Transaction} at {read.Invoked.TotalSeconds:F3} s, before its end was invoked at {endInvoked.TotalSeconds:F3} s"));
            }

            var held = byOffset.TryGetValue(read.Partition, out var partition) && partition.TryGetValue(read.Offset, out var value) ? value : null;
            if (!string.Equals(held, read.Value, StringComparison.Ordinal))
            {
                anomalies.Add(new(AnomalyKind.ReadLost, $"{read.Process} read {read.Value} at {read.Partition}/{read.Offset} at {read.Invoked.TotalSeconds:F3} s; the final log holds {held ?? "nothing"} there"));
            }
        }

        return count;
    }

    // Real-time order: an operation B invoked after commit A completed must not set or see an offset below A's.
    private static int CheckCommits(IReadOnlyList<Operation> history, List<Anomaly> anomalies)
    {
        var count = 0;
        var keys = history.Where(o => o.Kind is OperationKind.Commit or OperationKind.CommittedRead && o.Outcome == Outcome.Ok)
            .GroupBy(o => (Group: o.Value!, o.Partition));
        foreach (var key in keys)
        {
            var commits = key.Where(o => o.Kind == OperationKind.Commit).OrderBy(o => o.Completed).ToList();
            count += commits.Count;
            var next = 0;
            Operation? highest = null;
            foreach (var operation in key.OrderBy(o => o.Invoked))
            {
                while (next < commits.Count && commits[next].Completed < operation.Invoked)
                {
                    if (highest is null || commits[next].Offset > highest.Offset)
                    {
                        highest = commits[next];
                    }

                    next++;
                }

                if (highest is not null && operation.Offset < highest.Offset)
                {
                    var what = operation.Kind == OperationKind.Commit ? "committed" : "read back";
                    anomalies.Add(new(AnomalyKind.CommitBackwards, $"group {key.Key.Group} partition {key.Key.Partition}: {operation.Process} {what} {operation.Offset} at {operation.Invoked.TotalSeconds:F3} s after {highest.Offset} was committed at {highest.Completed!.Value.TotalSeconds:F3} s"));
                }
            }
        }

        return count;
    }

    // A transaction whose end is unknown may have committed or aborted, but not half of each.
    private static void CheckAtomicity(IEnumerable<Operation> produces, Dictionary<string, Outcome> transactions,
        Dictionary<string, (int Partition, long Offset)> present, List<Anomaly> anomalies)
    {
        foreach (var transaction in produces.Where(p => p.Transaction is not null && p.Outcome == Outcome.Ok).GroupBy(p => p.Transaction!))
        {
            if (transactions.GetValueOrDefault(transaction.Key) == Outcome.Fail)
            {
                continue;
            }

            var found = transaction.Count(p => present.ContainsKey(p.Value!));
            if (found != 0 && found != transaction.Count())
            {
                anomalies.Add(new(AnomalyKind.NotAtomic, $"{transaction.Key}: {found} of its {transaction.Count()} acknowledged writes are in the final log"));
            }
        }
    }
}
