namespace Tributary.Tests.Shared.Chaos;

/// <summary>What the checker found wrong.</summary>
public enum AnomalyKind
{
    /// <summary>An acknowledged write is not in the final log.</summary>
    Lost,

    /// <summary>An acknowledged write is in the final log at another partition or offset than acknowledged.</summary>
    Moved,

    /// <summary>A value is in the final log more than once.</summary>
    Duplicate,

    /// <summary>A value in the final log that no one sent.</summary>
    Phantom,

    /// <summary>A write that certainly failed (not persisted) is in the final log.</summary>
    FailedWritePresent,

    /// <summary>A partition's final log does not have strictly increasing offsets.</summary>
    OffsetOrder,

    /// <summary>One producer's acknowledged writes to a partition are not at increasing offsets in send order.</summary>
    ProducerOrder,

    /// <summary>A consumer read a value that the final log does not hold at that offset.</summary>
    ReadLost,

    /// <summary>A commit or committed-offset read is below a commit acknowledged before it was invoked.</summary>
    CommitBackwards,

    /// <summary>A read or the final log holds a value of an aborted transaction.</summary>
    AbortedRead,

    /// <summary>Part of a transaction is in the final log, part not.</summary>
    NotAtomic,

    /// <summary>A read_committed read of a transaction's value before the transaction's end was invoked.</summary>
    UncommittedRead,
}

public sealed record Anomaly(AnomalyKind Kind, string Detail)
{
    public override string ToString() => $"{Kind}: {Detail}";
}
