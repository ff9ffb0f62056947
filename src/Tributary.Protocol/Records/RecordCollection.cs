namespace Tributary.Protocol.Records;

/// <summary>
/// The records section of one batch (after the 61-byte header, decompressed if the batch is compressed) with
/// the count the header declares. Enumerating checks that exactly that many records fill exactly those
/// bytes; any deviation throws <see cref="ProtocolException"/> naming the record and byte.
/// </summary>
public readonly struct RecordCollection
{
    private readonly ReadOnlyMemory<byte> _records;

    public RecordCollection(ReadOnlyMemory<byte> records, int recordCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(recordCount);
        _records = records;
        Count = recordCount;
    }

    public int Count { get; }

    public Enumerator GetEnumerator() => new(_records, Count);

    public ref struct Enumerator
    {
        private readonly ReadOnlyMemory<byte> _memory;
        private readonly ReadOnlySpan<byte> _span;
        private readonly int _count;
        private int _index;
        private int _position;
        private Record _current;

        internal Enumerator(ReadOnlyMemory<byte> memory, int count)
        {
            _memory = memory;
            _span = memory.Span;
            _count = count;
            _index = 0;
            _position = 0;
            _current = default;
        }

        public readonly Record Current => _current;

        public bool MoveNext()
        {
            if (_index == _count)
            {
                if (_position != _span.Length)
                {
                    throw new ProtocolException($"{_span.Length - _position} bytes left over after the batch's {_count} records");
                }

                return false;
            }

            if (_position == _span.Length)
            {
                throw new ProtocolException($"batch declares {_count} records but its bytes end after {_index}");
            }

            var start = _position;
            try
            {
                _current = Record.Read(_memory, _span, ref _position);
            }
            catch (ProtocolException e)
            {
                throw new ProtocolException($"record {_index} at byte {start} of the records: {e.Reason}");
            }

            _index++;
            return true;
        }
    }
}
