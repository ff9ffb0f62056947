using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tributary.Storage.Cleaning;

/// <summary>
/// Kafka's log cleaner: <see cref="LogCleanerConfig.Threads"/> threads of its own, each taking the dirtiest compacted
/// log (dirty ratio at least min.cleanable.dirty.ratio, or past max.compaction.lag.ms) and cleaning it, and sleeping
/// <see cref="LogCleanerConfig.BackoffMs"/> when none needs it. All threads share the I/O throttle and divide the
/// dedupe buffer. A log whose clean fails is left alone until the next start, as Kafka marks it uncleanable.
/// </summary>
public sealed class LogCleaner : IDisposable
{
    private readonly LogManager _logs;
    private readonly LogCleanerConfig _config;
    private readonly ILogger _logger;
    private readonly CleanerThrottle _throttle;
    private readonly Lock _lock = new();
    private readonly HashSet<PartitionLog> _inProgress = [];
    private readonly HashSet<PartitionLog> _failed = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Thread> _threads = [];

    public LogCleaner(LogManager logs, LogCleanerConfig? config = null, ILoggerFactory? loggerFactory = null)
    {
        _logs = logs;
        _config = config ?? new LogCleanerConfig();
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<LogCleaner>();
        _throttle = new CleanerThrottle(_config.IoMaxBytesPerSecond);
    }

    /// <summary>Starts the cleaner threads.</summary>
    public void Start()
    {
        lock (_lock)
        {
            for (var i = 0; i < _config.Threads; i++)
            {
                var thread = new Thread(RunThread) { IsBackground = true, Name = $"log-cleaner-{i}" };
                _threads.Add(thread);
                thread.Start();
            }
        }
    }

    /// <summary>
    /// Cleans the dirtiest log that needs it, on the calling thread; null when none does (or its clean found
    /// nothing to do).
    /// </summary>
    public CleanResult? CleanDirtiest()
    {
        if (Grab() is not { } log)
        {
            return null;
        }

        try
        {
            var result = log.Clean(new OffsetMap(_config.DedupeBufferBytesPerThread), _throttle);
            if (result is not null)
            {
                _logs.WriteCleanerCheckpoint();
            }

            return result;
        }
        catch (ObjectDisposedException)
        {
            return null; // the log was closed, or retention deleted a segment being cleaned: the next pass looks again
        }
        catch (Exception e) when (e is IOException or Protocol.ProtocolException or InvalidOperationException)
        {
            StorageLog.CleaningFailed(_logger, e, log.Topic, log.Partition);
            lock (_lock)
            {
                _failed.Add(log);
            }

            return null;
        }
        finally
        {
            lock (_lock)
            {
                _inProgress.Remove(log);
            }
        }
    }

    /// <summary>The log with the highest dirty ratio among those that need cleaning and no other thread cleans.</summary>
    private PartitionLog? Grab()
    {
        lock (_lock)
        {
            PartitionLog? dirtiest = null;
            var dirtiestRatio = -1.0;
            foreach (var log in _logs.Logs)
            {
                if (_inProgress.Contains(log) || _failed.Contains(log) || log.GetCleanableRange() is not { DirtyBytes: > 0 } range)
                {
                    continue;
                }

                if ((range.DirtyRatio >= log.Config.MinCleanableDirtyRatio || range.MaxCompactionLagExceeded) && range.DirtyRatio > dirtiestRatio)
                {
                    dirtiest = log;
                    dirtiestRatio = range.DirtyRatio;
                }
            }

            if (dirtiest is not null)
            {
                _inProgress.Add(dirtiest);
            }

            return dirtiest;
        }
    }

    private void RunThread()
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            if (CleanDirtiest() is null)
            {
                stopping.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(Math.Clamp(_config.BackoffMs, 1, int.MaxValue)));
            }
        }
    }

    /// <summary>Stops the threads, waiting for the cleans in progress to finish.</summary>
    public void Dispose()
    {
        _stopping.Cancel();
        foreach (var thread in _threads)
        {
            thread.Join();
        }

        _stopping.Dispose();
    }
}
