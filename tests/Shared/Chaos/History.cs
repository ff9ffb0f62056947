using System.Diagnostics;

namespace Tributary.Tests.Shared.Chaos;

/// <summary>
/// The operations of a workload in the order they were invoked, each completed later as ok, fail or unknown; safe
/// for many recording threads. Times come from one monotonic clock started with the history.
/// </summary>
public sealed class History
{
    private readonly Lock _lock = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<Operation> _operations = [];

    public TimeSpan Now => _clock.Elapsed;

    public IReadOnlyList<Operation> Operations
    {
        get
        {
            lock (_lock)
            {
                return [.. _operations];
            }
        }
    }

    /// <summary>Records the invocation of an operation and returns its id, to complete it with.</summary>
    public long Invoke(string process, OperationKind kind, string? value = null, int partition = -1, long offset = -1, string? transaction = null)
    {
        lock (_lock)
        {
            var id = _operations.Count;
            _operations.Add(new Operation(id, process, kind, Outcome.Pending, _clock.Elapsed, null, value, partition, offset, transaction));
            return id;
        }
    }

    /// <summary>Ok; a produce passes the partition and offset it was acknowledged at, a committed-offset read the offset.</summary>
    public void Ok(long id, int partition = -1, long offset = -1) =>
        Complete(id, o => o with { Outcome = Outcome.Ok, Partition = partition >= 0 ? partition : o.Partition, Offset = offset >= 0 ? offset : o.Offset });

    public void Fail(long id, string error) => Complete(id, o => o with { Outcome = Outcome.Fail, Error = error });

    public void Unknown(long id, string error) => Complete(id, o => o with { Outcome = Outcome.Unknown, Error = error });

    /// <summary>A consumer's read of one record: invoked and completed now.</summary>
    public void Read(string process, int partition, long offset, string value)
    {
        lock (_lock)
        {
            var now = _clock.Elapsed;
            _operations.Add(new Operation(_operations.Count, process, OperationKind.Read, Outcome.Ok, now, now, value, partition, offset));
        }
    }

    private void Complete(long id, Func<Operation, Operation> change)
    {
        lock (_lock)
        {
            var operation = _operations[(int)id];
            if (operation.Outcome != Outcome.Pending)
            {
                throw new InvalidOperationException($"operation {id} completed twice");
            }

            _operations[(int)id] = change(operation) with { Completed = _clock.Elapsed };
        }
    }
}
