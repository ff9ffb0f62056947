using Microsoft.Extensions.Logging;

namespace Tributary.Storage;

/// <summary>
/// Files taken out of the logs that wait out <c>file.delete.delay.ms</c> before they are removed, as Kafka's delayed
/// deletes do: a segment renamed with the <c>.deleted</c> suffix (still open, so a fetch that found it before it left
/// the log reads on), a partition directory renamed <c>&lt;topic&gt;-&lt;partition&gt;.&lt;id&gt;-delete</c>. One timer,
/// armed for the earliest due time, removes them. Closing removes what waits at once; a start removes what a crash left
/// (<see cref="LogManager"/>, <see cref="PartitionLog"/>'s load).
/// </summary>
internal sealed class PendingDeletions : IDisposable
{
    /// <summary>Deletions waiting at once. One more removes the one due first at once, before its delay is over.</summary>
    public const int EntriesMax = 10_000;

    /// <summary>Longest single wait of the timer; a longer delay re-arms it (timers take at most about 49 days).</summary>
    private const long TimerWaitMsMax = 86_400_000;

    private readonly Lock _lock = new();
    private readonly PriorityQueue<Entry, (long DueMs, long Sequence)> _queue = new();
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private long _sequence;
    private long _timerDueMs = long.MaxValue;
    private bool _overLimitReported;
    private bool _disposed;

    public PendingDeletions(TimeProvider time, ILogger logger)
    {
        _time = time;
        _logger = logger;
        _timer = time.CreateTimer(_ => RunDue(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Deletions waiting now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="delete"/> once <paramref name="delayMs"/> has passed (at once when closed, or to make room
    /// past <see cref="EntriesMax"/>). <paramref name="what"/> names the files in log lines.
    /// </summary>
    public void Schedule(string what, long delayMs, Action delete)
    {
        var entry = new Entry(what, delete);
        Entry? early = null;
        lock (_lock)
        {
            if (_disposed)
            {
                early = entry;
            }
            else
            {
                if (_queue.Count >= EntriesMax)
                {
                    early = _queue.Dequeue();
                    if (!_overLimitReported)
                    {
                        _overLimitReported = true;
                        StorageLog.PendingDeletionsFull(_logger, EntriesMax, early.What);
                    }
                }

                var nowMs = NowMs();
                var dueMs = delayMs > long.MaxValue - nowMs ? long.MaxValue : nowMs + delayMs;
                _queue.Enqueue(entry, (dueMs, _sequence++));
                if (dueMs < _timerDueMs)
                {
                    Arm(dueMs, nowMs);
                }
            }
        }

        if (early is not null)
        {
            Run(early);
        }
    }

    /// <summary>Removes everything that waits, at once: the logs are closed, no reader is left.</summary>
    public void Dispose()
    {
        List<Entry> all = [];
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _timer.Dispose();
            while (_queue.TryDequeue(out var entry, out _))
            {
                all.Add(entry);
            }
        }

        foreach (var entry in all)
        {
            Run(entry);
        }
    }

    private void RunDue()
    {
        List<Entry> due = [];
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            var nowMs = NowMs();
            while (_queue.TryPeek(out _, out var priority) && priority.DueMs <= nowMs)
            {
                due.Add(_queue.Dequeue());
            }

            _timerDueMs = long.MaxValue;
            if (_queue.TryPeek(out _, out var next))
            {
                Arm(next.DueMs, nowMs);
            }

            if (_queue.Count < EntriesMax / 2)
            {
                _overLimitReported = false;
            }
        }

        foreach (var entry in due)
        {
            Run(entry);
        }
    }

    // Under the lock.
    private void Arm(long dueMs, long nowMs)
    {
        _timerDueMs = dueMs;
        _timer.Change(TimeSpan.FromMilliseconds(Math.Clamp(dueMs - nowMs, 0, TimerWaitMsMax)), Timeout.InfiniteTimeSpan);
    }

    private void Run(Entry entry)
    {
        try
        {
            entry.Delete();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left on disk: the next start removes it.
            StorageLog.PendingDeletionFailed(_logger, e, entry.What);
        }
    }

    private long NowMs() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private sealed record Entry(string What, Action Delete);
}
