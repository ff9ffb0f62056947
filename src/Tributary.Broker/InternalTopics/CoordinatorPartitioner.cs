namespace Tributary.Broker.InternalTopics;

/// <summary>
/// Which partition of a coordinator topic holds a key (a group id, a transactional id), as Kafka computes it:
/// <c>Utils.abs(key.hashCode) % partitionCount</c>, with Java's String.hashCode over the UTF-16 code units and
/// Utils.abs mapping Int.MinValue to 0. The same key lands on the same partition as on a Kafka broker with the same
/// partition count, so the coordinator of that partition's leader is the key's coordinator.
/// </summary>
public static class CoordinatorPartitioner
{
    public static int PartitionFor(string key, int partitionCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partitionCount, 1);
        return Abs(JavaHashCode(key)) % partitionCount;
    }

    /// <summary>Java's String.hashCode: s[0]*31^(n-1) + ... + s[n-1], wrapping on overflow.</summary>
    public static int JavaHashCode(string key)
    {
        var hash = 0;
        foreach (var c in key)
        {
            hash = unchecked((31 * hash) + c);
        }

        return hash;
    }

    private static int Abs(int n) => n == int.MinValue ? 0 : Math.Abs(n);
}
