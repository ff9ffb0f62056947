using Tributary.Broker.Dispatch;
using Tributary.Storage;

namespace Tributary.Broker.Handlers;

/// <summary>
/// Parks a fetch below its min_bytes until there may be more to read: an append to one of its partitions (a deleted
/// topic's log wakes it too), the server asking the connection to close, or its max_wait_ms running out, counted from
/// when the waiter was made. <see cref="Arm"/> it on the partitions before each read, so an append between the read
/// and <see cref="WaitAsync"/> is not missed. It holds no lock, so a parked fetch never delays an append.
/// </summary>
public sealed class FetchWaiter : IDisposable
{
    private readonly TimeProvider _time;
    private readonly long _started;
    private readonly int _maxWaitMs;
    private readonly SynchronizationContext? _resumeOn;
    private readonly CancellationToken _closeRequested;
    private readonly Action<PartitionLog> _onAppend;
    private List<PartitionLog> _armed = [];
    private TaskCompletionSource _woken;
    private CancellationTokenRegistration _onCloseRequested;

    /// <param name="resumeOn">
    /// where the fetch resumes when woken (<see cref="ConnectionInfo.ResumeOn"/>): the appender's thread only posts the
    /// resumption there, so an append never runs the fetch. Null: the thread pool.
    /// </param>
    /// <param name="closeRequested">wakes the fetch as an append would, so a stopping server is not held up.</param>
    public FetchWaiter(TimeProvider time, int maxWaitMs, SynchronizationContext? resumeOn = null, CancellationToken closeRequested = default)
    {
        _time = time;
        _started = time.GetTimestamp();
        _maxWaitMs = maxWaitMs;
        _resumeOn = resumeOn;
        _closeRequested = closeRequested;
        _woken = NewSignal();
        _onAppend = _ => _woken.TrySetResult();
    }

    /// <summary>What is left of max_wait_ms; zero or less once it has run out.</summary>
    public TimeSpan Remaining => TimeSpan.FromMilliseconds(_maxWaitMs) - _time.GetElapsedTime(_started);

    /// <summary>Whether an append, a deleted topic or a close request has woken the waiter since it was last armed.</summary>
    public bool IsWoken => _woken.Task.IsCompleted;

    /// <summary>Listens for appends to <paramref name="logs"/> (only), from now until the next wait ends.</summary>
    public void Arm(IEnumerable<PartitionLog> logs)
    {
        Disarm();
        _woken = NewSignal();
        _armed = [.. logs.Distinct()];
        foreach (var log in _armed)
        {
            log.Appended += _onAppend;
        }

        _onCloseRequested = _closeRequested.Register(static state => ((FetchWaiter)state!)._woken.TrySetResult(), this);
    }

    /// <summary>
    /// Waits until the waiter is woken (true) or <paramref name="timeout"/>, normally <see cref="Remaining"/>, has passed
    /// (false); then stops listening until armed again. Throws when <paramref name="cancellationToken"/> fires.
    /// </summary>
    public async ValueTask<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            var waiting = _woken.Task.WaitAsync(timeout, _time, cancellationToken);
            if (_resumeOn is null)
            {
                await waiting.ConfigureAwait(false);
            }
            else
            {
                await new ResumeOn(waiting, _resumeOn);
            }

            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        finally
        {
            Disarm();
        }
    }

    public void Dispose() => Disarm();

    private void Disarm()
    {
        foreach (var log in _armed)
        {
            log.Appended -= _onAppend;
        }

        _armed = [];
        _onCloseRequested.Dispose();
    }

    // With a connection thread to resume on, ResumeOn posts the continuation there; otherwise the appender's thread
    // must not run it inline.
    private TaskCompletionSource NewSignal() =>
        new(_resumeOn is null ? TaskCreationOptions.RunContinuationsAsynchronously : TaskCreationOptions.None);
}
