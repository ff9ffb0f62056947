namespace Tributary.Broker.Handlers;

/// <summary>
/// An incremental fetch session (KIP-227): the partitions one client fetches, kept by the broker so that the client's
/// next requests list only the partitions that changed and the responses only the partitions with news. Guarded by
/// its <see cref="FetchSessionCache"/>'s lock; the handler reaches it only through the cache.
/// </summary>
public sealed class FetchSession
{
    /// <summary>A FULL request that asks for a new session (with session id 0) or closes the one it names and opens another.</summary>
    public const int InitialEpoch = 0;

    /// <summary>A FULL request that closes the session it names and asks for none.</summary>
    public const int FinalEpoch = -1;

    // Partitions in the order a read visits them; one that returned records moves to the end, so every partition
    // gets its turn at the response's byte budget (Kafka's round robin).
    private readonly LinkedList<FetchSessionPartition> _order = new();
    private readonly Dictionary<FetchSessionKey, LinkedListNode<FetchSessionPartition>> _byKey = [];

    internal FetchSession(int id, bool usesTopicIds, long nowMs)
    {
        Id = id;
        UsesTopicIds = usesTopicIds;
        CreatedMs = nowMs;
        LastUsedMs = nowMs;
        Epoch = NextEpoch(InitialEpoch);
    }

    public int Id { get; }

    /// <summary>Made by a Fetch v13+ request: names topics by id, and only such requests may use it.</summary>
    public bool UsesTopicIds { get; }

    /// <summary>The epoch the next incremental request must carry.</summary>
    public int Epoch { get; internal set; }

    public long CreatedMs { get; }

    public long LastUsedMs { get; internal set; }

    public int PartitionCount => _order.Count;

    public IEnumerable<FetchSessionPartition> Partitions => _order;

    /// <summary>Kafka's FetchMetadata.nextEpoch: 1, 2, … wrapping to 1 after int.MaxValue.</summary>
    public static int NextEpoch(int epoch) => epoch < 0 ? FinalEpoch : epoch == int.MaxValue ? 1 : epoch + 1;

    public FetchSessionPartition? Find(FetchSessionKey key) => _byKey.GetValueOrDefault(key)?.Value;

    /// <summary>Adds the partition at the end, or takes the new fetch offset and byte limit of one already in.</summary>
    internal FetchSessionPartition Set(FetchTarget target)
    {
        if (!_byKey.TryGetValue(target.Key, out var node))
        {
            node = _order.AddLast(new FetchSessionPartition(target.Key));
            _byKey.Add(target.Key, node);
        }

        node.Value.FetchOffset = target.FetchOffset;
        node.Value.PartitionMaxBytes = target.PartitionMaxBytes;
        return node.Value;
    }

    internal void Forget(FetchSessionKey key)
    {
        if (_byKey.Remove(key, out var node))
        {
            _order.Remove(node);
        }
    }

    internal void MoveToEnd(FetchSessionKey key)
    {
        if (_byKey.TryGetValue(key, out var node) && node != _order.Last)
        {
            _order.Remove(node);
            _order.AddLast(node);
        }
    }
}
