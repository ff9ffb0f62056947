namespace Tributary.Storage.Cleaning;

/// <summary>
/// The cleaner's map from record key to the offset of its latest record in the dirty part of a log. Keys are kept
/// whole (no hash collisions can drop a live record); the map counts the memory its entries hold and reports itself
/// full past <see cref="MemoryBytesMax"/>, checked between batches, so it may exceed the bound by one batch's keys.
/// </summary>
internal sealed class OffsetMap
{
    /// <summary>Bytes one entry costs besides its key: the dictionary's entry, bucket and the key array's header.</summary>
    public const int EntryOverheadBytes = 64;

    private readonly Dictionary<byte[], long> _offsets = new(KeyComparer.Instance);
    private readonly Dictionary<byte[], long>.AlternateLookup<ReadOnlySpan<byte>> _lookup;
    private long _memoryBytes;

    public OffsetMap(long memoryBytesMax)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(memoryBytesMax, EntryOverheadBytes);
        MemoryBytesMax = memoryBytesMax;
        _lookup = _offsets.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public long MemoryBytesMax { get; }

    public int Count => _offsets.Count;

    public bool IsFull => _memoryBytes >= MemoryBytesMax;

    public void Clear()
    {
        _offsets.Clear();
        _memoryBytes = 0;
    }

    /// <summary>Records <paramref name="offset"/> as the latest of <paramref name="key"/> (offsets arrive in increasing order).</summary>
    public void Put(ReadOnlySpan<byte> key, long offset)
    {
        if (!_lookup.ContainsKey(key))
        {
            _memoryBytes += key.Length + EntryOverheadBytes;
        }

        _lookup[key] = offset;
    }

    /// <summary>The latest offset of <paramref name="key"/>, or -1 when the map has not seen it.</summary>
    public long Get(ReadOnlySpan<byte> key) => _lookup.TryGetValue(key, out var offset) ? offset : -1;

    private sealed class KeyComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly KeyComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj) => GetHashCode((ReadOnlySpan<byte>)obj);

        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            var hash = default(HashCode);
            hash.AddBytes(alternate);
            return hash.ToHashCode();
        }

        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
    }
}
