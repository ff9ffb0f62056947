using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tributary.Server.Networking;

/// <summary>
/// Runs work posted from other threads on a connection's own thread: a request that waited (a parked fetch woken by an
/// append or its deadline) resumes there, not on a thread-pool thread. Posting queues the work and wakes the thread
/// through an eventfd(2) that it polls beside its socket (<see cref="Wait(nint)"/>): one syscall and one wake-up, and the
/// answer goes out with the thread's blocking sends (bench/journal/thread-per-connection.md). The thread runs posted
/// work only between receives, never in the middle of handling a request. Once the thread has ended
/// (<see cref="Close"/>), while it is given up for an idle connection's parking (<see cref="TryRelease"/>: the eventfd is
/// closed then, so a parked connection holds one descriptor), and beyond <see cref="PostedMax"/> queued items, work
/// goes to the thread pool. Linux only:
/// <see cref="TryCreate"/> gives null elsewhere, and the connection keeps the thread pool.
/// </summary>
internal sealed partial class ConnectionThreadContext : SynchronizationContext, IDisposable
{
    /// <summary>
    /// Items queued for the thread; more go to the thread pool. A connection handles one request at a time, so it
    /// rarely has more than one waiting request to resume.
    /// </summary>
    public const int PostedMax = 64;

    private const int EfdNonBlock = 0x800;
    private const int EfdCloExec = 0x80000;
    private const short PollIn = 0x1;
    private const int EINTR = 4;

    private volatile SafeFileHandle _eventFd;
    private readonly Lock _lock = new();
    private readonly Queue<(SendOrPostCallback Callback, object? State)> _posted = new();
    private readonly PollFd[] _pollFds = new PollFd[2];
    private bool _closed;
    private bool _released;
    private volatile int _count;

    private ConnectionThreadContext(SafeFileHandle eventFd)
    {
        _eventFd = eventFd;
    }

    /// <summary>A context for one connection's thread, or null where eventfd(2) is not available.</summary>
    public static ConnectionThreadContext? TryCreate()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            var fd = EventFd(0, EfdNonBlock | EfdCloExec);
            return fd < 0 ? null : new ConnectionThreadContext(new SafeFileHandle(fd, ownsHandle: true));
        }
        catch (EntryPointNotFoundException)
        {
            return null;
        }
        catch (DllNotFoundException)
        {
            return null;
        }
    }

    /// <summary>True when work is queued for the thread.</summary>
    public bool HasWork => _count > 0;

    public override void Post(SendOrPostCallback d, object? state)
    {
        bool queued;
        bool first = false;
        lock (_lock)
        {
            queued = !_closed && !_released && _posted.Count < PostedMax;
            if (queued)
            {
                _posted.Enqueue((d, state));
                first = _posted.Count == 1;
                _count = _posted.Count;
            }
        }

        if (!queued)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.d(s.state), (d, state), preferLocal: false);
        }
        else if (first)
        {
            Wake();
        }
    }

    public override SynchronizationContext CreateCopy() => this;

    /// <summary>Makes the thread's next (or current) <see cref="Wait(nint)"/> return; harmless once closed.</summary>
    public void Wake()
    {
        ulong one = 1;
        try
        {
            // EAGAIN (the counter is full) cannot happen at one per post; either way the eventfd is readable.
            _ = Write(_eventFd, ref one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// On the connection's thread: waits until <paramref name="socketFd"/> (if not -1) is readable or work was posted
    /// or <see cref="Wake"/> called, then runs the posted work. True if the socket is readable (or failed, which the
    /// next receive reports).
    /// </summary>
    public bool Wait(nint socketFd) => Wait(socketFd, -1, out _);

    /// <summary>
    /// <see cref="Wait(nint)"/> for at most <paramref name="timeoutMs"/> milliseconds (-1: no limit);
    /// <paramref name="timedOut"/> says whether it ended for that alone.
    /// </summary>
    public bool Wait(nint socketFd, int timeoutMs, out bool timedOut)
    {
        var fds = _pollFds;
        var eventFd = (int)_eventFd.DangerousGetHandle();
        fds[0] = new PollFd { Fd = eventFd, Events = PollIn };
        var count = 1;
        if (socketFd != -1)
        {
            fds[1] = new PollFd { Fd = (int)socketFd, Events = PollIn };
            count = 2;
        }

        int ready;
        while ((ready = Poll(fds, (nuint)count, timeoutMs)) < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR)
            {
                throw new IOException($"poll failed (errno {errno})");
            }
        }

        timedOut = ready == 0;
        if (fds[0].Revents != 0)
        {
            ulong value = 0;
            _ = Read(_eventFd, ref value, sizeof(ulong)); // resets the counter; EAGAIN if another read took it
        }

        RunPosted();
        return count == 2 && fds[1].Revents != 0;
    }

    /// <summary>On the connection's thread: runs what was posted so far.</summary>
    public void RunPosted()
    {
        while (true)
        {
            (SendOrPostCallback Callback, object? State) item;
            lock (_lock)
            {
                if (!_posted.TryDequeue(out item))
                {
                    _count = 0;
                    return;
                }

                _count = _posted.Count;
            }

            item.Callback(item.State);
        }
    }

    /// <summary>
    /// On the connection's thread, as it ends for a while (its connection parks): false if work is queued, which it must
    /// run first. Otherwise what is posted from now on runs on the thread pool and the eventfd is closed, until
    /// <see cref="TryReacquire"/>.
    /// </summary>
    public bool TryRelease()
    {
        lock (_lock)
        {
            if (_closed || _posted.Count > 0)
            {
                return false;
            }

            _released = true;
        }

        _eventFd.Dispose();
        return true;
    }

    /// <summary>
    /// Before a thread takes the connection again after <see cref="TryRelease"/>: a new eventfd, and posts run on the
    /// thread again. False if no eventfd could be had (out of descriptors): the context stays released.
    /// </summary>
    public bool TryReacquire()
    {
        var fd = EventFd(0, EfdNonBlock | EfdCloExec);
        if (fd < 0)
        {
            return false;
        }

        _eventFd = new SafeFileHandle(fd, ownsHandle: true);
        lock (_lock)
        {
            _released = false;
        }

        return true;
    }

    /// <summary>When the thread ends: what is queued, and everything posted from now on, runs on the thread pool.</summary>
    public void Close()
    {
        List<(SendOrPostCallback Callback, object? State)> left;
        lock (_lock)
        {
            _closed = true;
            left = [.. _posted];
            _posted.Clear();
            _count = 0;
        }

        foreach (var item in left)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.Callback(s.State), item, preferLocal: false);
        }

        _eventFd.Dispose();
    }

    public void Dispose() => Close();

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(SafeFileHandle fd, ref ulong value, nuint count);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(SafeFileHandle fd, ref ulong value, nuint count);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll([In, Out] PollFd[] fds, nuint count, int timeoutMs);
}
