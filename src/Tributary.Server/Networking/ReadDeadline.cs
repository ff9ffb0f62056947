using System.Diagnostics;
using System.IO.Pipelines;

namespace Tributary.Server.Networking;

/// <summary>
/// Bounds one wait for input at a time: once armed, the pending read is cancelled when its time runs out. Re-armable,
/// and a timer that fires for an earlier wait (as that wait's read completed) never counts as the current wait
/// timing out, so its stray cancellation is told apart from a real time-out.
/// </summary>
internal sealed class ReadDeadline : IDisposable
{
    private readonly PipeReader _input;
    private readonly Timer _timer;
    private long _deadline;
    private long _firedFor;

    public ReadDeadline(PipeReader input)
    {
        _input = input;
        _timer = new Timer(static state => ((ReadDeadline)state!).OnTimer(), this, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>Starts bounding a wait of <paramref name="waitMs"/> milliseconds.</summary>
    public void Arm(long waitMs)
    {
        waitMs = Math.Clamp(waitMs, 1, int.MaxValue);
        Volatile.Write(ref _deadline, Stopwatch.GetTimestamp() + (waitMs * Stopwatch.Frequency / 1000));
        _timer.Change(waitMs, Timeout.Infinite);
    }

    /// <summary>Ends the wait; true if its time ran out (and so its read was cancelled).</summary>
    public bool Disarm()
    {
        var deadline = Interlocked.Exchange(ref _deadline, 0);
        _timer.Change(Timeout.Infinite, Timeout.Infinite);
        return deadline != 0 && Volatile.Read(ref _firedFor) == deadline;
    }

    private void OnTimer()
    {
        var deadline = Volatile.Read(ref _deadline);
        if (deadline == 0)
        {
            return;
        }

        var remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
        if (remaining > TimeSpan.Zero)
        {
            // Fired early, or for an earlier wait: wait out the current one.
            _timer.Change((long)Math.Ceiling(remaining.TotalMilliseconds), Timeout.Infinite);
            return;
        }

        Volatile.Write(ref _firedFor, deadline);
        _input.CancelPendingRead();
    }

    public void Dispose() => _timer.Dispose();
}
