using Microsoft.Extensions.Logging;

namespace Tributary.Broker.Cluster;

/// <summary>
/// Cluster mode's producer ids: handed out from a block of <see cref="BlockSize"/> this broker reserved in etcd
/// (<see cref="ClusterNode.ReserveProducerIdBlockAsync"/>). As Kafka's RPCProducerIdManager, the next block is
/// requested once 90% of the current one is used, and while no block is ready <see cref="TryNext"/> fails, which
/// InitProducerId answers with COORDINATOR_LOAD_IN_PROGRESS (retriable). Blocks live in memory only: a restarted broker
/// reserves a fresh one and never reuses an id.
/// </summary>
public sealed partial class ProducerIdBlocks
{
    /// <summary>Ids per block, as Kafka's controller hands out.</summary>
    public const long BlockSize = 1000;

    private readonly Func<CancellationToken, Task<long>> _reserve;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private long _next;
    private long _end;

    // The reservation in flight or finished and not yet taken: the start of the next block.
    private Task<long>? _pending;

    /// <param name="reserve">Reserves <see cref="BlockSize"/> ids and returns the first; throws when it cannot.</param>
    public ProducerIdBlocks(Func<CancellationToken, Task<long>> reserve, ILogger logger)
    {
        _reserve = reserve;
        _logger = logger;
        lock (_lock)
        {
            _pending = Reserve();
        }
    }

    /// <summary>
    /// The next id of this broker's block. Without a block ready it waits up to <paramref name="wait"/> for the
    /// reservation in flight (starting one if none is) and returns false if none arrived or it failed.
    /// </summary>
    public bool TryNext(TimeSpan wait, out long id)
    {
        Task<long> pending;
        lock (_lock)
        {
            if (TryTake(out id))
            {
                return true;
            }

            pending = _pending ??= Reserve();
        }

        if (wait > TimeSpan.Zero)
        {
            // The outcome is read under the lock below; a failed reservation is logged where it ran.
            _ = pending.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).Wait(wait);
        }

        lock (_lock)
        {
            return TryTake(out id);
        }
    }

    private bool TryTake(out long id)
    {
        if (_next >= _end && _pending is { IsCompleted: true } done)
        {
            _pending = null;
            if (done.IsCompletedSuccessfully)
            {
                _next = done.Result;
                _end = _next + BlockSize;
            }
        }

        if (_next >= _end)
        {
            id = -1;
            return false;
        }

        id = _next++;
        if (_pending is null && _end - _next <= BlockSize / 10)
        {
            _pending = Reserve();
        }

        return true;
    }

    private Task<long> Reserve() => Task.Run(async () =>
    {
        try
        {
            return await _reserve(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogReserveFailed(_logger, e.Message);
            throw;
        }
    });

    [LoggerMessage(EventId = 1541, Level = LogLevel.Warning, Message = "Reserving a producer id block failed: {Reason}; InitProducerId answers COORDINATOR_LOAD_IN_PROGRESS until one is reserved")]
    private static partial void LogReserveFailed(ILogger logger, string reason);
}
