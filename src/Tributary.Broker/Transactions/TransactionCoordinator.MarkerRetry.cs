using Microsoft.Extensions.Logging;
using Tributary.Protocol;

namespace Tributary.Broker.Transactions;

// Cluster mode: markers that could not be written (the partition's leader moved, stopped, or did not answer) are sent
// again in the background until every partition has its marker, as Kafka's TransactionMarkerChannelManager retries
// them. Each round looks the partition's leader up again in the metadata cache, so a marker follows its partition to a
// new leader; a partition whose marker was written is taken off the transaction's list (in memory; a coordinator that
// loads the prepared record sends them all again, which is harmless). The transaction stays PrepareCommit or
// PrepareAbort meanwhile (its producer's next request answers CONCURRENT_TRANSACTIONS, which clients retry) and is
// completed once the last marker is written. A coordinator that lost its leadership stops: the next one completes the
// transactions it finds prepared when it loads them; one whose marker a newer coordinator fenced stops retrying that
// transaction (TransactionCoordinator.Markers.cs).
public sealed partial class TransactionCoordinator
{
    /// <summary>Wait between two rounds of markers sent again (cluster mode).</summary>
    public const int MarkerRetryBackoffMs = 200;

    // Transactional ids whose markers are being retried: their failures are logged once, not every round.
    private readonly HashSet<string> _markersPending = new(StringComparer.Ordinal);
    private ITimer? _markerRetryTimer;
    private bool _markerRetryStopped;

    /// <summary>Transactions prepared whose markers are still being sent again (cluster mode), for tests and metrics.</summary>
    public int MarkersPending
    {
        get
        {
            lock (_lock)
            {
                return _markersPending.Count;
            }
        }
    }

    private bool MarkersLogged(TransactionMetadata t) => _markersPending.Contains(t.TransactionalId);

    // After a round of markers for t: schedules another while some are missing. Caller holds _lock.
    private void MarkersSent(TransactionMetadata t, bool allWritten)
    {
        if (allWritten)
        {
            if (_markersPending.Remove(t.TransactionalId))
            {
                LogMarkersWritten(t.TransactionalId);
            }

            return;
        }

        _markersPending.Add(t.TransactionalId);
        ScheduleMarkerRetry(TimeSpan.FromMilliseconds(MarkerRetryBackoffMs));
    }

    // Arms the retry timer (once stopped, never). Caller holds _lock.
    private void ScheduleMarkerRetry(TimeSpan due)
    {
        if (_markerRetryStopped)
        {
            return;
        }

        _markerRetryTimer ??= _broker.Time.CreateTimer(static state => ((TransactionCoordinator)state!).RetryMarkers(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _markerRetryTimer.Change(due, Timeout.InfiniteTimeSpan);
    }

    // A round for every prepared transaction without one out, taken under the lock and sent without it.
    private void RetryMarkers()
    {
        List<MarkerRound> rounds;
        lock (_lock)
        {
            if (_markerRetryStopped || !_leadership.Any)
            {
                _markersPending.Clear();
                return;
            }

            _markersPending.RemoveWhere(id => !_transactions.TryGetValue(id, out var t) || t.MarkersFenced
                || t.State is not (TransactionState.PrepareCommit or TransactionState.PrepareAbort));
            rounds = [.. _transactions.Values.Select(TakeMarkerRound).OfType<MarkerRound>()];
        }

        foreach (var round in rounds)
        {
            RunMarkerRound(round);
        }
    }

    private void StopMarkerRetries()
    {
        lock (_lock)
        {
            _markerRetryStopped = true;
        }

        _markerRetryTimer?.Dispose();
    }

    [LoggerMessage(EventId = 1550, Level = LogLevel.Information, Message = "The transaction markers of {TransactionalId} are written after retries; it completes")]
    private partial void LogMarkersWritten(string transactionalId);
}
