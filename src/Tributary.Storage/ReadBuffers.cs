using System.Buffers;

namespace Tributary.Storage;

/// <summary>
/// Arrays rented from <see cref="ArrayPool{T}.Shared"/> for reads whose bytes must outlive the read: a fetch
/// response's records stay referenced until the response is serialized into the socket's pipe, and only then are
/// the arrays returned, all at once, by whoever wrote it (<see cref="Release"/>). Without this every fetch
/// allocated fresh arrays of up to its max bytes, which landed on the large-object heap and drove full collections.
/// Not thread-safe: one request uses one instance. Forgetting <see cref="Release"/> is harmless (the garbage
/// collector takes the arrays); releasing while the bytes are still referenced is not.
/// </summary>
public sealed class ReadBuffers
{
    private List<byte[]>? _rented;

    /// <summary>An array of at least <paramref name="minimumLength"/> bytes, held until <see cref="Release"/>.</summary>
    public byte[] Rent(int minimumLength)
    {
        var array = ArrayPool<byte>.Shared.Rent(minimumLength);
        (_rented ??= []).Add(array);
        return array;
    }

    /// <summary>Returns every rented array to the pool: nothing read through this instance may be used afterwards.</summary>
    public void Release()
    {
        if (_rented is null)
        {
            return;
        }

        foreach (var array in _rented)
        {
            ArrayPool<byte>.Shared.Return(array);
        }

        _rented.Clear();
    }
}
