using Tributary.Storage;

namespace Tributary.Server.Admin.Console;

/// <summary>
/// One search across a topic, running on the thread pool: every partition from its start to its high watermark, until
/// it has scanned <see cref="BytesMax"/> stored bytes, run for its time limit, found <see cref="ResultsMax"/> records,
/// or been cancelled. Cancelling (the page's button, or the time limit) fires the token the scan checks before every
/// read from the log, so the server stops reading, not only the page.
/// </summary>
internal sealed class SearchJob : IDisposable
{
    private readonly CancellationTokenSource _cancel;
    private readonly List<MessageBody> _matches = [];
    private readonly Lock _lock = new();
    private long _bytesScanned;
    private long _recordsScanned;
    private string _state = "running";
    private string? _stopReason;

    public SearchJob(string id, string topic, string principal, SearchMatcher matcher, long bytesMax, long timeMs, int resultsMax, TimeProvider time)
    {
        Id = id;
        Topic = topic;
        Principal = principal;
        Matcher = matcher;
        BytesMax = bytesMax;
        ResultsMax = resultsMax;
        StartedAt = time.GetTimestamp();
        _cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(timeMs), time);
        TimeMs = timeMs;
    }

    public string Id { get; }

    public string Topic { get; }

    /// <summary>Who started it: only they see and cancel it.</summary>
    public string Principal { get; }

    public SearchMatcher Matcher { get; }

    public long BytesMax { get; }

    public long TimeMs { get; }

    public int ResultsMax { get; }

    public long StartedAt { get; }

    public long BytesToScan { get; private set; }

    public bool Running
    {
        get
        {
            lock (_lock)
            {
                return _state == "running";
            }
        }
    }

    private bool CancelledByUser { get; set; }

    public void Cancel()
    {
        lock (_lock)
        {
            CancelledByUser = true;
        }

        _cancel.Cancel();
    }

    public SearchBody Snapshot()
    {
        lock (_lock)
        {
            return new SearchBody(Id, Topic, _state, _stopReason, Interlocked.Read(ref _bytesScanned), BytesToScan, BytesMax, Interlocked.Read(ref _recordsScanned), [.. _matches]);
        }
    }

    /// <summary>Scans <paramref name="logs"/> (partition, log) in partition order; never throws.</summary>
    public async Task RunAsync(IReadOnlyList<(int Partition, PartitionLog Log)> logs, Func<CancellationToken, ValueTask>? beforeRead)
    {
        BytesToScan = logs.Sum(l => l.Log.SizeBytes);
        var token = _cancel.Token;
        string state = "done", reason = "scanned the whole topic";
        try
        {
            foreach (var (partition, log) in logs)
            {
                var found = false;
                await LogScanner.ScanAsync(log, log.LogStartOffset, log.HighWatermark, record =>
                {
                    Interlocked.Increment(ref _recordsScanned);
                    if (Matcher.Matches(record))
                    {
                        lock (_lock)
                        {
                            _matches.Add(Payloads.Message(partition, record));
                            found = _matches.Count >= ResultsMax;
                        }
                    }

                    return !found;
                }, token, beforeRead, read =>
                {
                    if (Interlocked.Add(ref _bytesScanned, read) >= BytesMax)
                    {
                        found = true; // the scan stops at its next record
                    }
                }).ConfigureAwait(false);

                if (Interlocked.Read(ref _bytesScanned) >= BytesMax)
                {
                    reason = $"stopped at the limit of {BytesMax} bytes scanned";
                    break;
                }

                if (found)
                {
                    reason = $"stopped at {ResultsMax} matches";
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            bool byUser;
            lock (_lock)
            {
                byUser = CancelledByUser;
            }

            (state, reason) = byUser ? ("cancelled", "cancelled") : ("stopped", $"stopped at the time limit of {TimeMs} ms");
        }
#pragma warning disable CA1031 // a search that fails reports why on its page; it must not take the process down
        catch (Exception e)
#pragma warning restore CA1031
        {
            (state, reason) = ("failed", e.Message);
        }

        lock (_lock)
        {
            _state = state;
            _stopReason = reason;
        }
    }

    public void Dispose() => _cancel.Dispose();
}
