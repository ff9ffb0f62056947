using System.Collections.Concurrent;
using Tributary.Broker;

namespace Tributary.Server.Admin.Console;

/// <summary>
/// Samples taken on a timer for what the console draws over time: each group's total lag (a bounded ring per group,
/// for the lag chart) and the sums of the traffic counters the handlers keep per partition (records and bytes in,
/// bytes out); the overview's throughput is the difference between the two newest samples. Nothing here is persisted: a restart starts the charts again.
/// </summary>
internal sealed class ConsoleSampler : IDisposable
{
    /// <summary>Time between samples.</summary>
    public const int SampleIntervalMs = 5_000;

    /// <summary>Samples kept per group: 30 minutes at one per 5 s.</summary>
    public const int LagSamplesMax = 360;

    /// <summary>Groups whose lag is sampled; the ones past it are not charted.</summary>
    public const int GroupsSampledMax = 1_000;

    private readonly Func<BrokerCore?> _core;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, Queue<LagSampleBody>> _lag = new(StringComparer.Ordinal);
    private readonly ITimer _timer;
    private readonly Lock _throughputLock = new();
    private (long TimeMs, long Records, long BytesIn, long BytesOut)? _previous;
    private (long TimeMs, long Records, long BytesIn, long BytesOut)? _latest;

    public ConsoleSampler(Func<BrokerCore?> core, TimeProvider time)
    {
        _core = core;
        _time = time;
        _timer = time.CreateTimer(_ => SampleAll(), null, TimeSpan.Zero, TimeSpan.FromMilliseconds(SampleIntervalMs));
    }

    /// <summary>Records in, bytes in and bytes out per second between the two newest samples, and the window.</summary>
    public (double RecordsIn, double BytesIn, double BytesOut, long WindowMs) Throughput()
    {
        lock (_throughputLock)
        {
            if (_previous is not { } a || _latest is not { } b || b.TimeMs <= a.TimeMs)
            {
                return (0, 0, 0, 0);
            }

            // A deleted topic takes its counters with it: a sum that went down counts as no traffic.
            var seconds = (b.TimeMs - a.TimeMs) / 1000.0;
            return (Math.Max(0, b.Records - a.Records) / seconds, Math.Max(0, b.BytesIn - a.BytesIn) / seconds,
                Math.Max(0, b.BytesOut - a.BytesOut) / seconds, b.TimeMs - a.TimeMs);
        }
    }

    public IReadOnlyList<LagSampleBody> LagSamples(string groupId)
    {
        if (!_lag.TryGetValue(groupId, out var ring))
        {
            return [];
        }

        lock (ring)
        {
            return [.. ring];
        }
    }

    /// <summary>Adds a sample of <paramref name="groupId"/>'s lag now (also called when the group's page is read).</summary>
    public void AddLag(string groupId, long lag)
    {
        if (!_lag.TryGetValue(groupId, out var ring))
        {
            if (_lag.Count >= GroupsSampledMax)
            {
                return;
            }

            ring = _lag.GetOrAdd(groupId, _ => new Queue<LagSampleBody>());
        }

        lock (ring)
        {
            if (ring.Count == LagSamplesMax)
            {
                ring.Dequeue();
            }

            ring.Enqueue(new LagSampleBody(_time.GetUtcNow().ToUnixTimeMilliseconds(), lag));
        }
    }

    private void SampleAll()
    {
        if (_core() is not { } core)
        {
            return;
        }

        try
        {
            long records = 0, bytesIn = 0, bytesOut = 0;
            foreach (var log in core.Logs.Logs)
            {
                records += log.Traffic.RecordsIn;
                bytesIn += log.Traffic.BytesIn;
                bytesOut += log.Traffic.BytesOut;
            }

            lock (_throughputLock)
            {
                _previous = _latest;
                _latest = (_time.GetUtcNow().ToUnixTimeMilliseconds(), records, bytesIn, bytesOut);
            }

            var groups = GroupLag.GroupIds(core);
            foreach (var stale in _lag.Keys.Except(groups, StringComparer.Ordinal))
            {
                _lag.TryRemove(stale, out _);
            }

            foreach (var groupId in groups)
            {
                AddLag(groupId, GroupLag.Offsets(core, groupId).Sum(o => o.Lag));
            }
        }
        catch (ObjectDisposedException)
        {
            // the broker stopped between two samples
        }
    }

    public void Dispose() => _timer.Dispose();
}
