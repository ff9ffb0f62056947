using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tributary.Broker;

namespace Tributary.Server.Hosting;

/// <summary>Periodic work of the log: time-based flushes (log.flush.interval.ms) and retention checks.</summary>
public sealed partial class BrokerMaintenanceService(BrokerCore broker, ILogger<BrokerMaintenanceService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var flushEvery = TimeSpan.FromMilliseconds(broker.Config.LogFlushSchedulerIntervalMs);
        var retentionEvery = TimeSpan.FromMilliseconds(broker.Config.LogRetentionCheckIntervalMs);
        var lastRetention = broker.Time.GetTimestamp();
        using var timer = new PeriodicTimer(flushEvery, broker.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    broker.Logs.FlushIfDue();
                    if (broker.Time.GetElapsedTime(lastRetention) >= retentionEvery)
                    {
                        lastRetention = broker.Time.GetTimestamp();
                        var deleted = broker.Logs.RunRetention();
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

    [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "Retention deleted {Segments} segments")]
    private partial void LogRetention(int segments);

    [LoggerMessage(EventId = 401, Level = LogLevel.Error, Message = "Log maintenance failed")]
    private partial void LogMaintenanceFailed(Exception exception);
}
