using System.Buffers;
using System.Numerics;

namespace Tributary.Protocol.Compression;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> for scratch buffers that live only while one batch is decompressed or built.
/// Arrays up to <see cref="PooledArrayBytesMax"/> come from <see cref="ArrayPool{T}.Shared"/>; larger ones are
/// allocated and dropped, because the shared pool keeps what it is given per core for the life of the process. With a
/// <see cref="ByteBudget"/>, every array is reserved from it before it is taken and released once it is let go.
/// Dispose gives the array back.
/// </summary>
internal sealed class PooledBufferWriter : IBufferWriter<byte>, IDisposable
{
    /// <summary>Largest array, in bytes, rented from and returned to the shared pool.</summary>
    public const int PooledArrayBytesMax = 1024 * 1024;

    private readonly ByteBudget? _budget;
    private readonly TimeSpan _budgetWait;
    private readonly long _capacityMax;
    private byte[] _buffer;
    private int _written;

    /// <param name="initialCapacity">Bytes of the first array.</param>
    /// <param name="budget">Where the arrays' bytes are reserved; null: nowhere.</param>
    /// <param name="budgetWait">How long a growth waits for room in <paramref name="budget"/> before it throws <see cref="ScratchMemoryUnavailableException"/>.</param>
    /// <param name="capacityMax">Bytes doubling stops at; a larger request is still met, exactly.</param>
    public PooledBufferWriter(int initialCapacity = 4096, ByteBudget? budget = null, TimeSpan budgetWait = default, long capacityMax = int.MaxValue)
    {
        _budget = budget;
        _budgetWait = budgetWait;
        _capacityMax = capacityMax;
        _buffer = Take(initialCapacity);
    }

    public int WrittenCount => _written;

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    public void Clear() => _written = 0;

    public void Advance(int count)
    {
        if ((uint)count > (uint)(_buffer.Length - _written))
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"advanced {count} bytes past the {_buffer.Length - _written} available");
        }

        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Grow(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Grow(sizeHint);
        return _buffer.AsSpan(_written);
    }

    private void Grow(int sizeHint)
    {
        var needed = Math.Max(sizeHint, 1);
        if (_buffer.Length - _written >= needed)
        {
            return;
        }

        var required = (long)_written + needed;
        var capacity = (int)Math.Min(Array.MaxLength, Math.Max(required, Math.Min((long)_buffer.Length * 2, _capacityMax)));
        var larger = Take(capacity);
        _buffer.AsSpan(0, _written).CopyTo(larger);
        Give(_buffer);
        _buffer = larger;
    }

    /// <summary>Bytes an array taken for <paramref name="capacity"/> has: the pool rounds up to a power of two.</summary>
    private static long ArrayBytes(int capacity) =>
        capacity <= PooledArrayBytesMax ? BitOperations.RoundUpToPowerOf2((uint)Math.Max(capacity, 16)) : capacity;

    private byte[] Take(int capacity)
    {
        capacity = Math.Max(capacity, 1);
        if (_budget is not null && !_budget.Reserve(ArrayBytes(capacity), _budgetWait))
        {
            throw new ScratchMemoryUnavailableException(ArrayBytes(capacity), _budget.LimitBytes);
        }

        return capacity <= PooledArrayBytesMax ? ArrayPool<byte>.Shared.Rent(capacity) : GC.AllocateUninitializedArray<byte>(capacity);
    }

    private void Give(byte[] array)
    {
        if (array.Length == 0)
        {
            return;
        }

        if (array.Length <= PooledArrayBytesMax)
        {
            ArrayPool<byte>.Shared.Return(array);
        }

        _budget?.Release(array.Length);
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        _written = 0;
        Give(buffer);
    }
}

/// <summary>A scratch buffer could not get room in its <see cref="ByteBudget"/> within the wait allowed.</summary>
public sealed class ScratchMemoryUnavailableException(long bytes, long limitBytes)
    : Exception($"{bytes} bytes of scratch memory did not become free within the wait (budget {limitBytes} bytes)");
