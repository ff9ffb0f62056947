using System.Buffers.Binary;
using Tributary.Tests.Shared.Chaos;

namespace Tributary.Server.Tests.Chaos;

/// <summary>
/// The fault tests' checker on made-up histories with known answers: a correct history passes, and each kind of
/// anomaly (lost, moved, duplicated, phantom or failed-yet-present writes, producer reordering, reads of values later
/// gone, commits going backwards, aborted, half or uncommitted-yet-read transactions) is found and named.
/// </summary>
public sealed class HistoryCheckerTests
{
    private readonly List<Operation> _history = [];
    private readonly Dictionary<int, List<LogEntry>> _log = new() { [0] = [], [1] = [] };

    [Fact]
    public void A_correct_history_with_unknown_and_failed_writes_and_rebalancing_commits_is_valid()
    {
        Produce("p1", "a", 0, 0, Outcome.Ok, at: 0);
        Produce("p1", "b", 0, 1, Outcome.Ok, at: 1);
        Produce("p2", "c", 1, 0, Outcome.Ok, at: 1);
        Produce("p2", "d", -1, -1, Outcome.Unknown, at: 2); // timed out, yet written
        Produce("p2", "e", -1, -1, Outcome.Unknown, at: 3); // timed out, not written
        Produce("p1", "f", -1, -1, Outcome.Fail, at: 4);
        Produce("p1", "g", -1, -1, Outcome.Pending, at: 5);
        Log(0, (0, "a"), (1, "b"));
        Log(1, (0, "c"), (1, "d"));
        Read("c1", 0, 0, "a", at: 6);
        Read("c1", 1, 1, "d", at: 6);
        Commit("c1", 0, 1, from: 7, to: 8);
        Commit("c2", 0, 0, from: 7, to: 9); // overlaps the first commit: not ordered after it
        Commit("c2", 0, 2, from: 10, to: 11);
        CommittedRead("c3", 0, 2, from: 12, to: 13);

        var result = Check();

        Assert.True(result.Valid, result.Summary());
        Assert.Equal((3, 1, 3, 1, 2, 3, 4), (result.Acknowledged, result.Failed, result.Unknown, result.UnknownPresent, result.Reads, result.Commits, result.FinalRecords));
    }

    [Fact]
    public void An_acknowledged_write_missing_from_the_final_log_is_lost()
    {
        Produce("p1", "a", 0, 0, Outcome.Ok, at: 0);
        Produce("p1", "b", 0, 1, Outcome.Ok, at: 1);
        Log(0, (0, "a"));

        var anomaly = Assert.Single(Check().Anomalies);

        Assert.Equal(AnomalyKind.Lost, anomaly.Kind);
        Assert.Contains("b acknowledged at 0/1", anomaly.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void An_acknowledged_write_at_another_offset_is_moved()
    {
        Produce("p1", "a", 0, 0, Outcome.Ok, at: 0);
        Log(0, (0, "x"), (1, "a"));
        Produce("p2", "x", -1, -1, Outcome.Unknown, at: 0);

        Assert.Equal([AnomalyKind.Moved], Kinds(Check()));
    }

    [Fact]
    public void A_write_acknowledged_without_an_offset_must_be_in_its_partition_in_its_producers_order()
    {
        // librdkafka acknowledges b and d implicitly (offset -1) when a later batch of p1 to their partition succeeds.
        Produce("p1", "a", 0, 0, Outcome.Ok, at: 0);
        Produce("p1", "b", 0, -1, Outcome.Ok, at: 1);
        Produce("p1", "c", 0, 2, Outcome.Ok, at: 2);
        Produce("p1", "d", 1, -1, Outcome.Ok, at: 3);
        Log(0, (0, "a"), (1, "b"), (2, "c"));
        Log(1, (0, "d"));
        var result = Check();
        Assert.True(result.Valid, result.Summary());

        _log[0] = [new(0, "a"), new(1, "c"), new(2, "b")];
        _history[2] = _history[2] with { Offset = 1 };
        Assert.Equal([AnomalyKind.ProducerOrder], Kinds(Check()));

        _log[1] = [];
        Assert.Equal([AnomalyKind.Lost, AnomalyKind.ProducerOrder], Kinds(Check()));
    }

    [Fact]
    public void A_value_twice_in_the_log_is_a_duplicate_and_one_never_sent_a_phantom()
    {
        Produce("p1", "a", 0, 0, Outcome.Ok, at: 0);
        Log(0, (0, "a"), (1, "a"), (2, "zzz"));

        Assert.Equal([AnomalyKind.Duplicate, AnomalyKind.Phantom], Kinds(Check()).Order());
    }

    [Fact]
    public void A_write_that_certainly_failed_must_not_be_in_the_log()
    {
        Produce("p1", "a", -1, -1, Outcome.Fail, at: 0);
        Log(0, (0, "a"));

        Assert.Equal([AnomalyKind.FailedWritePresent], Kinds(Check()));
    }

    [Fact]
    public void Offsets_of_the_final_log_must_increase()
    {
        Produce("p1", "a", 0, 5, Outcome.Ok, at: 0);
        Produce("p2", "b", 0, 4, Outcome.Ok, at: 0);
        Log(0, (5, "a"), (4, "b"));

        Assert.Equal([AnomalyKind.OffsetOrder], Kinds(Check()));
    }

    [Fact]
    public void One_producers_later_write_acknowledged_at_a_lower_offset_is_reordered()
    {
        Produce("p1", "a", 0, 1, Outcome.Ok, at: 0);
        Produce("p1", "b", 0, 0, Outcome.Ok, at: 1);
        Produce("p2", "c", 1, 1, Outcome.Ok, at: 0); // different producers may interleave freely
        Produce("p3", "d", 1, 0, Outcome.Ok, at: 1);
        Log(0, (0, "b"), (1, "a"));
        Log(1, (0, "d"), (1, "c"));

        var anomaly = Assert.Single(Check().Anomalies);

        Assert.Equal(AnomalyKind.ProducerOrder, anomaly.Kind);
        Assert.Contains("p1 sent a before b", anomaly.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_read_of_a_value_the_final_log_no_longer_holds_there_is_found()
    {
        // The consumer saw an unacknowledged write of a zombie leader; the log later holds another value there.
        Produce("p1", "a", 0, 0, Outcome.Ok, at: 0);
        Produce("p1", "b", -1, -1, Outcome.Unknown, at: 1);
        Produce("p2", "c", 0, 1, Outcome.Ok, at: 2);
        Read("c1", 0, 1, "b", at: 3);
        Read("c1", 0, 0, "a", at: 3);
        Log(0, (0, "a"), (1, "c"));

        var anomaly = Assert.Single(Check().Anomalies);

        Assert.Equal(AnomalyKind.ReadLost, anomaly.Kind);
        Assert.Contains("the final log holds c", anomaly.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_commit_or_read_back_below_an_earlier_acknowledged_commit_goes_backwards()
    {
        Commit("c1", 0, 10, from: 0, to: 1);
        Commit("c2", 0, 7, from: 2, to: 3);
        CommittedRead("c3", 0, 9, from: 4, to: 5);
        Commit("c2", 1, 3, from: 0, to: 1); // another partition keeps its own order
        CommittedRead("c3", 1, 3, from: 4, to: 5);

        var result = Check();

        Assert.Equal([AnomalyKind.CommitBackwards, AnomalyKind.CommitBackwards], Kinds(result));
        Assert.Contains("c2 committed 7", result.Anomalies[0].Detail, StringComparison.Ordinal);
        Assert.Contains("c3 read back 9", result.Anomalies[1].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Aborted_transactions_are_never_read_and_a_transaction_of_unknown_end_is_all_or_nothing()
    {
        Produce("t", "a1", 0, 0, Outcome.Ok, at: 0, transaction: "t-1");
        Produce("t", "a2", 1, 0, Outcome.Ok, at: 0, transaction: "t-1");
        End("t-1", Outcome.Fail, at: 1);
        Produce("t", "b1", 0, 2, Outcome.Ok, at: 2, transaction: "t-2");
        Produce("t", "b2", 1, 2, Outcome.Ok, at: 2, transaction: "t-2");
        End("t-2", Outcome.Unknown, at: 3);
        Produce("t", "c1", 0, 4, Outcome.Ok, at: 4, transaction: "t-3");
        End("t-3", Outcome.Ok, at: 5);
        Read("c1", 1, 0, "a2", at: 6);
        Log(0, (2, "b1"), (4, "c1"));

        var result = Check();

        Assert.Equal([AnomalyKind.AbortedRead, AnomalyKind.NotAtomic], Kinds(result).Order());
        Assert.Equal((1, 2), (result.Acknowledged, result.Failed));
    }

    [Fact]
    public void A_committed_transaction_with_only_some_of_its_writes_in_the_final_log_is_not_atomic()
    {
        Produce("t", "a1", 0, 0, Outcome.Ok, at: 0, transaction: "t-1");
        Produce("t", "a2", 1, 0, Outcome.Ok, at: 0, transaction: "t-1");
        End("t-1", Outcome.Ok, at: 1);
        Produce("t", "b1", 0, 2, Outcome.Ok, at: 2, transaction: "t-2");
        Produce("t", "b2", 1, 2, Outcome.Ok, at: 2, transaction: "t-2");
        End("t-2", Outcome.Ok, at: 3);
        Log(0, (0, "a1"), (2, "b1"));
        Log(1, (2, "b2"));

        var result = Check();

        Assert.Equal([AnomalyKind.Lost, AnomalyKind.NotAtomic], Kinds(result).Order());
        Assert.Contains("a2", result.Anomalies[0].Detail, StringComparison.Ordinal);
        Assert.Equal(4, result.Acknowledged);
    }

    [Fact]
    public void A_read_of_a_transactions_value_before_its_end_was_invoked_is_an_uncommitted_read()
    {
        Produce("t", "a1", 0, 0, Outcome.Ok, at: 0, transaction: "t-1");
        Produce("t", "a2", 1, 0, Outcome.Ok, at: 0, transaction: "t-1");
        Read("c1", 0, 0, "a1", at: 1); // read_committed, yet before the commit was asked for
        End("t-1", Outcome.Ok, at: 2);
        Read("c1", 1, 0, "a2", at: 3);
        Produce("t", "b1", 0, 2, Outcome.Ok, at: 4, transaction: "t-2");
        End("t-2", Outcome.Unknown, at: 5);
        Read("c1", 0, 2, "b1", at: 6); // after an end of unknown outcome: it committed
        Log(0, (0, "a1"), (2, "b1"));
        Log(1, (0, "a2"));

        var result = Check();

        var anomaly = Assert.Single(result.Anomalies);
        Assert.Equal(AnomalyKind.UncommittedRead, anomaly.Kind);
        Assert.Contains("a1 of t-1", anomaly.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_history_recorded_live_completes_each_operation_once()
    {
        var history = new History();
        var sent = history.Invoke("p1", OperationKind.Produce, "a");
        history.Ok(sent, partition: 1, offset: 7);
        history.Read("c1", 1, 7, "a");

        var operations = history.Operations;

        Assert.Equal((Outcome.Ok, 1, 7L), (operations[0].Outcome, operations[0].Partition, operations[0].Offset));
        Assert.True(operations[0].Completed >= operations[0].Invoked);
        Assert.Equal(OperationKind.Read, operations[1].Kind);
        Assert.Throws<InvalidOperationException>(() => history.Fail(sent, "again"));
    }

    [Fact]
    public void Replica_logs_are_read_up_to_the_end_offset_and_compared_byte_for_byte()
    {
        var root = Directory.CreateTempSubdirectory("tributary-replicas-");
        try
        {
            WriteSegment(root.FullName, "b1", (0, 10), (3, 20));
            WriteSegment(root.FullName, "b2", (0, 10), (3, 20), (5, 8)); // one more batch above the end offset
            WriteSegment(root.FullName, "b3", (0, 10), (3, 21));

            var replicas = new[] { "b1", "b2", "b3" }.Select((b, i) => (Id: i + 1, Bytes: ReplicaLogs.ReadUpTo(Path.Combine(root.FullName, b), "t", 0, endOffset: 5)))
                .ToDictionary(r => r.Id, r => r.Bytes);

            Assert.Equal(12 + 10 + 12 + 20, replicas[1].Length);
            Assert.Equal(replicas[1], replicas[2]);
            var difference = Assert.Single(ReplicaLogs.Compare(replicas));
            Assert.StartsWith("broker 3 (55 bytes) differs from broker 1 (54 bytes)", difference, StringComparison.Ordinal);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    private static void WriteSegment(string root, string broker, params (long BaseOffset, int Length)[] batches)
    {
        var directory = Directory.CreateDirectory(Path.Combine(root, broker, "t-0")).FullName;
        using var segment = File.Create(Path.Combine(directory, "00000000000000000000.log"));
        foreach (var (baseOffset, length) in batches)
        {
            var header = new byte[12];
            BinaryPrimitives.WriteInt64BigEndian(header, baseOffset);
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(8), length);
            segment.Write(header);
            segment.Write(Enumerable.Repeat((byte)length, length).ToArray());
        }
    }

    private CheckResult Check() => HistoryChecker.Check(_history, _log.ToDictionary(p => p.Key, p => (IReadOnlyList<LogEntry>)p.Value));

    private static List<AnomalyKind> Kinds(CheckResult result) => [.. result.Anomalies.Select(a => a.Kind)];

    private void Log(int partition, params (long Offset, string Value)[] entries) =>
        _log[partition].AddRange(entries.Select(e => new LogEntry(e.Offset, e.Value)));

    private void Add(string process, OperationKind kind, Outcome outcome, double from, double? to, string? value = null, int partition = -1, long offset = -1, string? transaction = null) =>
        _history.Add(new Operation(_history.Count, process, kind, outcome, TimeSpan.FromSeconds(from), to is { } t ? TimeSpan.FromSeconds(t) : null, value, partition, offset, transaction));

    private void Produce(string producer, string value, int partition, long offset, Outcome outcome, double at, string? transaction = null) =>
        Add(producer, OperationKind.Produce, outcome, at, outcome == Outcome.Pending ? null : at + 0.5, value, partition, offset, transaction);

    private void Read(string consumer, int partition, long offset, string value, double at) =>
        Add(consumer, OperationKind.Read, Outcome.Ok, at, at, value, partition, offset);

    private void Commit(string member, int partition, long offset, double from, double to) =>
        Add(member, OperationKind.Commit, Outcome.Ok, from, to, "g", partition, offset);

    private void CommittedRead(string member, int partition, long offset, double from, double to) =>
        Add(member, OperationKind.CommittedRead, Outcome.Ok, from, to, "g", partition, offset);

    private void End(string transaction, Outcome outcome, double at) =>
        Add("t", OperationKind.TransactionEnd, outcome, at, at, partition: -1, transaction: transaction);
}
