using Microsoft.Extensions.Logging;
using Tributary.Broker;
using Tributary.Storage.Cleaning;

namespace Tributary.Server.Hosting;

/// <summary>
/// Periodic work of the log: time-based flushes (log.flush.interval.ms), recovery-point checkpoints
/// (log.flush.offset.checkpoint.interval.ms) and retention checks on one loop, and the log cleaner (log.cleaner.enable)
/// on threads of its own, so a long clean delays none of them.
/// </summary>
public sealed partial class BrokerMaintenance : IAsyncDisposable
{
    private readonly BrokerCore _broker;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    private readonly LogCleaner? _cleaner;

    public BrokerMaintenance(BrokerCore broker, ILogger<BrokerMaintenance> logger)
    {
        _broker = broker;
        _logger = logger;
        var config = broker.Config;
        if (config.LogCleanerEnable)
        {
            _cleaner = new LogCleaner(
                broker.Logs,
                new LogCleanerConfig
                {
                    Threads = config.LogCleanerThreads,
                    DedupeBufferBytes = config.LogCleanerDedupeBufferSize,
                    IoMaxBytesPerSecond = config.LogCleanerIoMaxBytesPerSecond,
                    BackoffMs = config.LogCleanerBackoffMs,
                },
                broker.LoggerFactory);
            _cleaner.Start();
        }

        _loop = RunAsync(_stopping.Token);
    }

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        var flushEvery = TimeSpan.FromMilliseconds(_broker.Config.LogFlushSchedulerIntervalMs);
        var retentionEvery = TimeSpan.FromMilliseconds(_broker.Config.LogRetentionCheckIntervalMs);
        var lastRetention = _broker.Time.GetTimestamp();
        var checkpointEvery = TimeSpan.FromMilliseconds(_broker.Config.LogFlushOffsetCheckpointIntervalMs);
        var lastCheckpoint = _broker.Time.GetTimestamp();
        using var timer = new PeriodicTimer(flushEvery, _broker.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    _broker.Logs.FlushIfDue();
                    if (checkpointEvery > TimeSpan.Zero && _broker.Time.GetElapsedTime(lastCheckpoint) >= checkpointEvery)
                    {
                        lastCheckpoint = _broker.Time.GetTimestamp();
                        _broker.Logs.CheckpointRecoveryPoints();
                    }

                    if (_broker.Time.GetElapsedTime(lastRetention) >= retentionEvery)
                    {
                        lastRetention = _broker.Time.GetTimestamp();
                        var deleted = _broker.Logs.RunRetention();
                        if (deleted > 0)
                        {
                            LogRetention(deleted);
                        }
                    }
                }
                catch (IOException e)
                {
                    LogMaintenanceFailed(e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _cleaner?.Dispose();
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "Retention deleted {Segments} segments")]
    private partial void LogRetention(int segments);

    [LoggerMessage(EventId = 401, Level = LogLevel.Error, Message = "Log maintenance failed")]
    private partial void LogMaintenanceFailed(Exception exception);
}
