namespace Tributary.Protocol;

/// <summary>
/// A broker-wide bound on bytes held for one purpose (request frames in flight, decompression scratch). A reservation
/// is granted while the bytes in use plus its own stay within <see cref="LimitBytes"/>, or when nothing is in use (so
/// one reservation larger than the limit still proceeds, alone); otherwise it waits, first come first served, until
/// releases make room. In use so never exceeds the larger of the limit and the largest single reservation.
/// </summary>
public sealed class ByteBudget
{
    private readonly Lock _lock = new();
    private readonly LinkedList<Waiter> _waiters = [];
    private long _used;
    private long _peak;

    /// <param name="limitBytes">Bytes that may be reserved at once; 0 or less: unbounded.</param>
    public ByteBudget(long limitBytes)
    {
        LimitBytes = limitBytes <= 0 ? long.MaxValue : limitBytes;
    }

    /// <summary>A budget that never waits.</summary>
    public static ByteBudget Unbounded { get; } = new(-1);

    public long LimitBytes { get; }

    public bool IsBounded => LimitBytes != long.MaxValue;

    public long UsedBytes
    {
        get
        {
            lock (_lock)
            {
                return _used;
            }
        }
    }

    /// <summary>The most bytes in use at once since the budget was made.</summary>
    public long PeakBytes
    {
        get
        {
            lock (_lock)
            {
                return _peak;
            }
        }
    }

    /// <summary>Reserves <paramref name="bytes"/> if they fit now, without waiting.</summary>
    public bool TryReserve(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        lock (_lock)
        {
            if (_waiters.Count > 0 || !Fits(bytes))
            {
                return false;
            }

            Take(bytes);
            return true;
        }
    }

    /// <summary>Reserves <paramref name="bytes"/>, waiting for room; cancelling gives up the wait and reserves nothing.</summary>
    public ValueTask ReserveAsync(long bytes, CancellationToken cancellation = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        Waiter waiter;
        lock (_lock)
        {
            if (_waiters.Count == 0 && Fits(bytes))
            {
                Take(bytes);
                return ValueTask.CompletedTask;
            }

            cancellation.ThrowIfCancellationRequested();
            waiter = new Waiter(bytes);
            waiter.Node = _waiters.AddLast(waiter);
        }

        if (cancellation.CanBeCanceled)
        {
            waiter.Registration = cancellation.Register(static state =>
            {
                var (budget, w, token) = ((ByteBudget, Waiter, CancellationToken))state!;
                budget.Cancel(w, token);
            }, (this, waiter, cancellation));
        }

        return new ValueTask(waiter.Granted.Task);
    }

    /// <summary>Reserves <paramref name="bytes"/>, blocking the calling thread up to <paramref name="wait"/>; false if no room came.</summary>
    public bool Reserve(long bytes, TimeSpan wait)
    {
        if (TryReserve(bytes))
        {
            return true;
        }

        using var timeout = new CancellationTokenSource(wait);
        try
        {
            ReserveAsync(bytes, timeout.Token).AsTask().GetAwaiter().GetResult();
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Gives back bytes reserved earlier and grants the waiters that now fit, in order.</summary>
    public void Release(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes == 0)
        {
            return;
        }

        lock (_lock)
        {
            _used -= bytes;
            if (_used < 0)
            {
                throw new InvalidOperationException($"released {bytes} bytes more than were reserved");
            }
        }

        GrantWaiting();
    }

    private bool Fits(long bytes) => _used == 0 || bytes <= LimitBytes - _used;

    private void Take(long bytes)
    {
        _used += bytes;
        _peak = Math.Max(_peak, _used);
    }

    private void Cancel(Waiter waiter, CancellationToken token)
    {
        lock (_lock)
        {
            if (waiter.Node is null)
            {
                return; // granted meanwhile: the caller owns the bytes
            }

            _waiters.Remove(waiter.Node);
            waiter.Node = null;
        }

        waiter.Granted.TrySetCanceled(token);

        // The cancelled waiter may have held back smaller ones behind it that fit now.
        GrantWaiting();
    }

    /// <summary>Grants the waiters at the head of the queue that fit, in order; completes them outside the lock.</summary>
    private void GrantWaiting()
    {
        List<Waiter>? granted = null;
        lock (_lock)
        {
            while (_waiters.First is { } first && Fits(first.Value.Bytes))
            {
                _waiters.RemoveFirst();
                first.Value.Node = null;
                Take(first.Value.Bytes);
                (granted ??= []).Add(first.Value);
            }
        }

        if (granted is not null)
        {
            foreach (var waiter in granted)
            {
                waiter.Registration.Dispose();
                waiter.Granted.TrySetResult();
            }
        }
    }

    private sealed class Waiter(long bytes)
    {
        public long Bytes { get; } = bytes;

        public TaskCompletionSource Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LinkedListNode<Waiter>? Node { get; set; }

        public CancellationTokenRegistration Registration { get; set; }
    }
}
