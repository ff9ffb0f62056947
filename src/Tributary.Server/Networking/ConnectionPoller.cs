using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Tributary.Server.Networking;

/// <summary>
/// Holds the sockets of idle connections whose threads have ended, on one thread of its own, and runs a connection's
/// wake-up once its socket is readable, hung up or failed. An epoll(7) set watches each parked socket with
/// <c>EPOLLIN | EPOLLRDHUP | EPOLLONESHOT</c>: one-shot, so after one wake-up the socket stays in the set but disabled,
/// and the poller hears nothing from it while its connection is busy on its own thread (blocking receives, as before).
/// The runtime's own epoll thread never sees these sockets, since no asynchronous receive is ever made on them
/// (bench/journal/idle-connection-threads.md). Parking and taking back race only through one dictionary removal: the
/// poller waking a socket and its connection closing cannot both win. Linux only: <see cref="TryCreate"/> gives null
/// elsewhere, and connections keep their threads.
/// </summary>
internal sealed partial class ConnectionPoller : IDisposable
{
    /// <summary>Events one epoll_wait takes at most; more ready sockets are taken by the next wait.</summary>
    public const int EventsPerWaitMax = 256;

    private const uint EpollIn = 0x001;
    private const uint EpollRdHup = 0x2000;
    private const uint EpollOneShot = 1u << 30;
    private const int EpollCtlAdd = 1;
    private const int EpollCtlDel = 2;
    private const int EpollCtlMod = 3;
    private const int EpollCloExec = 0x80000;
    private const int EfdNonBlock = 0x800;
    private const int EfdCloExec = 0x80000;
    private const int ENOENT = 2;
    private const int EINTR = 4;
    private const int EEXIST = 17;

    /// <summary>The key of the eventfd that stops the poller; parked sockets have keys from 1 on.</summary>
    private const long StopKey = 0;

    // struct epoll_event is packed on x86-64 (12 bytes: events, then data at 4) and naturally aligned elsewhere (16).
    private static readonly int EventBytes = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    private static readonly int DataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    private readonly SafeFileHandle _epoll;
    private readonly SafeFileHandle _stopEvent;
    private readonly ConcurrentDictionary<long, Action> _parked = new();
    private readonly Thread _thread;
    private readonly ILogger _logger;
    private volatile bool _stopped;
    private long _unknownEvents;

    private ConnectionPoller(SafeFileHandle epoll, SafeFileHandle stopEvent, ILogger logger)
    {
        _epoll = epoll;
        _stopEvent = stopEvent;
        _logger = logger;
        _thread = new Thread(Run) { Name = "tributary-poller", IsBackground = true };
    }

    /// <summary>A started poller, or null where epoll(7) and eventfd(2) are not available.</summary>
    public static ConnectionPoller? TryCreate(ILogger logger)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        SafeFileHandle? epoll = null;
        SafeFileHandle? stop = null;
        try
        {
            var epollFd = EpollCreate1(EpollCloExec);
            if (epollFd < 0)
            {
                return null;
            }

            epoll = new SafeFileHandle(epollFd, ownsHandle: true);
            var stopFd = EventFd(0, EfdNonBlock | EfdCloExec);
            if (stopFd < 0)
            {
                epoll.Dispose();
                return null;
            }

            stop = new SafeFileHandle(stopFd, ownsHandle: true);
            if (Control(epoll, EpollCtlAdd, stopFd, EpollIn, StopKey) != 0)
            {
                stop.Dispose();
                epoll.Dispose();
                return null;
            }

            var poller = new ConnectionPoller(epoll, stop, logger);
            poller._thread.Start();
            return poller;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException or OutOfMemoryException or ThreadStartException)
        {
            stop?.Dispose();
            epoll?.Dispose();
            return null;
        }
    }

    /// <summary>Sockets parked now.</summary>
    public int ParkedCount => _parked.Count;

    /// <summary>
    /// Events for sockets that were not parked: only a socket taken back as it became readable gives one. A socket that
    /// is not parked is disabled in the set (one-shot), so a busy connection never gives any (tests check that).
    /// </summary>
    internal long UnknownEvents => Interlocked.Read(ref _unknownEvents);

    /// <summary>True once <see cref="Dispose"/> has begun: nothing parks any more.</summary>
    public bool IsStopped => _stopped;

    /// <summary>
    /// Parks <paramref name="socketFd"/> under <paramref name="key"/> (unique among parked sockets, from 1 on):
    /// <paramref name="wake"/> runs once, on the poller's thread, when the socket is readable, hung up or failed (at
    /// once if it already is), or when the poller stops. It may run before this returns, so the caller has given up
    /// the connection before calling. <paramref name="inSet"/> says whether the socket is in the epoll set already
    /// (parked before; a one-shot socket stays in the set, disabled); it is set once it is. False if the socket was not
    /// parked (the poller has stopped, or epoll refused it): the caller keeps the connection.
    /// </summary>
    public bool Park(nint socketFd, long key, Action wake, ref bool inSet)
    {
        if (_stopped || !_parked.TryAdd(key, wake))
        {
            return false;
        }

        var fd = (int)socketFd;
        const uint events = EpollIn | EpollRdHup | EpollOneShot;
        var result = Control(_epoll, inSet ? EpollCtlMod : EpollCtlAdd, fd, events, key);
        if (result != 0)
        {
            // The set disagrees with what the connection remembers (its descriptor closed and opened again): the other way.
            var errno = Marshal.GetLastPInvokeError();
            if (errno is ENOENT or EEXIST)
            {
                result = Control(_epoll, errno == ENOENT ? EpollCtlAdd : EpollCtlMod, fd, events, key);
            }
        }

        if (result != 0)
        {
            _parked.TryRemove(key, out _);
            return false;
        }

        inSet = true;

        // Stopped meanwhile: the stop may have missed this socket. Whoever removes it owns it; if the stop did, it woke it.
        if (_stopped && _parked.TryRemove(key, out _))
        {
            Control(_epoll, EpollCtlDel, fd, 0, 0);
            return false;
        }

        return true;
    }

    /// <summary>
    /// Takes a parked socket back without waking it (its connection is closing): true if it was parked, and then it is
    /// out of the epoll set and its wake-up will not run. False if it was not parked or its wake-up has run or is running.
    /// </summary>
    public bool TryUnpark(nint socketFd, long key)
    {
        if (!_parked.TryRemove(key, out _))
        {
            return false;
        }

        Control(_epoll, EpollCtlDel, (int)socketFd, 0, 0);
        return true;
    }

    /// <summary>Stops the thread, then wakes every socket still parked, so each connection goes on (and ends) on a thread of its own.</summary>
    public void Dispose()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        ulong one = 1;
        _ = Write(_stopEvent, ref one, sizeof(ulong));
        if (_thread.ManagedThreadId != Environment.CurrentManagedThreadId)
        {
            _thread.Join();
        }

        foreach (var key in _parked.Keys)
        {
            if (_parked.TryRemove(key, out var wake))
            {
                RunWake(wake);
            }
        }

        _epoll.Dispose();
        _stopEvent.Dispose();
    }

    private void Run()
    {
        // Pinned for as long as the thread waits, that is almost always: on the pinned object heap it holds no
        // ordinary heap region in place, so a compacting collection can still empty and release the start-up region.
        var events = GC.AllocateUninitializedArray<byte>(EventsPerWaitMax * EventBytes, pinned: true);
        while (!_stopped)
        {
            var count = EpollWait(_epoll, events, EventsPerWaitMax, -1);
            if (count < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR)
                {
                    continue;
                }

                // Cannot happen with a valid set and buffer; the parked connections are woken by Dispose.
                LogWaitFailed(errno);
                return;
            }

            for (var i = 0; i < count; i++)
            {
                var key = BitConverter.ToInt64(events, (i * EventBytes) + DataOffset);
                if (key == StopKey)
                {
                    continue;
                }

                if (_parked.TryRemove(key, out var wake))
                {
                    RunWake(wake);
                }
                else
                {
                    Interlocked.Increment(ref _unknownEvents);
                }
            }
        }
    }

    private void RunWake(Action wake)
    {
        try
        {
            wake();
        }
        catch (Exception e)
        {
            // A wake-up handles its own failures (a thread that cannot start ends its connection); anything else is a bug.
            LogWakeFailed(e);
        }
    }

    private static int Control(SafeFileHandle epoll, int op, int fd, uint events, long key)
    {
        Span<byte> ev = stackalloc byte[16];
        ev.Clear();
        BitConverter.TryWriteBytes(ev, events);
        BitConverter.TryWriteBytes(ev[DataOffset..], key);
        try
        {
            return EpollCtl(epoll, op, fd, ref MemoryMarshal.GetReference(ev));
        }
        catch (ObjectDisposedException)
        {
            return -1; // the poller has stopped
        }
    }

    [LoggerMessage(EventId = 318, Level = LogLevel.Error, Message = "The connection poller stopped: epoll_wait failed (errno {Errno}); parked connections wake at shutdown")]
    private partial void LogWaitFailed(int errno);

    [LoggerMessage(EventId = 319, Level = LogLevel.Error, Message = "Waking a parked connection failed")]
    private partial void LogWakeFailed(Exception exception);

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(SafeFileHandle epoll, int op, int fd, ref byte ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWait(SafeFileHandle epoll, [In, Out] byte[] events, int eventsMax, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(SafeFileHandle fd, ref ulong value, nuint count);
}
