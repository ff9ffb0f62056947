namespace Tributary.Server.Networking;

/// <summary>
/// The dedicated threads a transport's connections may hold at once (<see cref="SocketTransportLimits.ConnectionThreadsMax"/>).
/// A busy connection takes one while a slot is free and gives it back once idle; one that finds none is served on
/// the thread pool, so thousands of connections cost a bounded number of threads.
/// </summary>
internal sealed class ConnectionThreads(int threadsMax)
{
    private int _threadsHeld;

    public int ThreadsMax { get; } = threadsMax;

    /// <summary>Threads held now.</summary>
    public int ThreadsHeld => Volatile.Read(ref _threadsHeld);

    public bool TryAcquire()
    {
        var held = Volatile.Read(ref _threadsHeld);
        while (held < ThreadsMax)
        {
            var seen = Interlocked.CompareExchange(ref _threadsHeld, held + 1, held);
            if (seen == held)
            {
                return true;
            }

            held = seen;
        }

        return false;
    }

    public void Release() => Interlocked.Decrement(ref _threadsHeld);
}
