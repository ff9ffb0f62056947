namespace Tributary.Tests.Shared.Chaos;

/// <summary>What a recorded operation did.</summary>
public enum OperationKind
{
    /// <summary>Send of <see cref="Operation.Value"/> (unique in the history); Ok carries its partition and offset.</summary>
    Produce,

    /// <summary>A consumer saw <see cref="Operation.Value"/> at a partition and offset (invoked and completed at once).</summary>
    Read,

    /// <summary>Offset commit of group <see cref="Operation.Value"/>: the next offset to read of a partition.</summary>
    Commit,

    /// <summary>The committed offset of group <see cref="Operation.Value"/> read back (OffsetFetch).</summary>
    CommittedRead,

    /// <summary>End of <see cref="Operation.Transaction"/>: Ok is a commit, Fail an abort, Unknown either.</summary>
    TransactionEnd,
}

/// <summary>How an operation ended, as Jepsen records it: ok, fail (it certainly did not happen) or info (unknown).</summary>
public enum Outcome
{
    /// <summary>Invoked, never completed (the run ended first): the checker treats it as unknown.</summary>
    Pending,
    Ok,
    Fail,
    Unknown,
}

/// <summary>
/// One operation of a workload: who invoked it (a producer, consumer or group member), when it was invoked and when
/// it completed (time since the history began), and what it concerned.
/// </summary>
public sealed record Operation(
    long Id,
    string Process,
    OperationKind Kind,
    Outcome Outcome,
    TimeSpan Invoked,
    TimeSpan? Completed,
    string? Value = null,
    int Partition = -1,
    long Offset = -1,
    string? Transaction = null,
    string? Error = null);
