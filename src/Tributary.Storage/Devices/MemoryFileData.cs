namespace Tributary.Storage.Devices;

/// <summary>The bytes of one in-memory file, shared by every handle opened on it.</summary>
internal sealed class MemoryFileData
{
    private readonly Lock _lock = new();
    private byte[] _bytes = [];
    private long _length;
    private long _flushedLength;

    public long Length
    {
        get
        {
            lock (_lock)
            {
                return _length;
            }
        }
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            var needed = _length + data.Length;
            if (needed > _bytes.Length)
            {
                var grown = Math.Max(needed, Math.Min(Array.MaxLength, Math.Max(4096, (long)_bytes.Length * 2)));
                Array.Resize(ref _bytes, checked((int)grown));
            }

            data.CopyTo(_bytes.AsSpan((int)_length));
            _length = needed;
        }
    }

    public int ReadAt(long position, Span<byte> destination)
    {
        lock (_lock)
        {
            if (position >= _length)
            {
                return 0;
            }

            var count = (int)Math.Min(destination.Length, _length - position);
            _bytes.AsSpan((int)position, count).CopyTo(destination);
            return count;
        }
    }

    public void Truncate(long length)
    {
        lock (_lock)
        {
            if (length > _bytes.Length)
            {
                Array.Resize(ref _bytes, checked((int)length));
            }

            if (length > _length)
            {
                // Growing reads as zeros, as ftruncate(2) does.
                _bytes.AsSpan((int)_length, (int)(length - _length)).Clear();
            }

            _length = length;
            _flushedLength = Math.Min(_flushedLength, length);
        }
    }

    public void Flush()
    {
        lock (_lock)
        {
            _flushedLength = _length;
        }
    }

    public void DiscardUnflushed()
    {
        lock (_lock)
        {
            _length = _flushedLength;
        }
    }

    public byte[] ToArray()
    {
        lock (_lock)
        {
            return _bytes.AsSpan(0, (int)_length).ToArray();
        }
    }
}
