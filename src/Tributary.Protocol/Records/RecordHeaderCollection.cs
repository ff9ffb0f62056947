namespace Tributary.Protocol.Records;

/// <summary>The headers of one record, read lazily from the bytes the record already validated.</summary>
public readonly struct RecordHeaderCollection
{
    private readonly ReadOnlyMemory<byte> _bytes;

    internal RecordHeaderCollection(ReadOnlyMemory<byte> bytes, int count)
    {
        _bytes = bytes;
        Count = count;
    }

    public int Count { get; }

    public Enumerator GetEnumerator() => new(_bytes, Count);

    public ref struct Enumerator
    {
        private readonly ReadOnlyMemory<byte> _memory;
        private readonly ReadOnlySpan<byte> _span;
        private readonly int _count;
        private int _index;
        private int _position;
        private RecordHeader _current;

        internal Enumerator(ReadOnlyMemory<byte> memory, int count)
        {
            _memory = memory;
            _span = memory.Span;
            _count = count;
            _index = 0;
            _position = 0;
            _current = default;
        }

        public readonly RecordHeader Current => _current;

        public bool MoveNext()
        {
            if (_index >= _count)
            {
                return false;
            }

            _current = Read(_memory, _span, ref _position);
            _index++;
            return true;
        }
    }

    /// <summary>Reads one header; the same rules <see cref="Record"/> checks when it parses a record.</summary>
    internal static RecordHeader Read(ReadOnlyMemory<byte> memory, ReadOnlySpan<byte> span, ref int position)
    {
        var keyStart = RecordVarInt.ReadNullableBytes(span, ref position, "header key", "header key length", out var keyLength);
        if (keyStart < 0)
        {
            throw new ProtocolException("header key is null: header keys are non-nullable strings");
        }

        var valueStart = RecordVarInt.ReadNullableBytes(span, ref position, "header value", "header value length", out var valueLength);
        return new RecordHeader(
            memory.Slice(keyStart, keyLength),
            valueStart < 0 ? default(ReadOnlyMemory<byte>?) : memory.Slice(valueStart, valueLength));
    }
}
