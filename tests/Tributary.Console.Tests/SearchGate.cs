namespace Tributary.Console.Tests;

/// <summary>
/// The console's <c>BeforeSearchRead</c> seam: lets reads through until told to hold them after a number of reads,
/// then parks the next one until released or until the search's token fires. It counts reads that got through and
/// reads whose wait was cancelled, so a test sees that cancelling a search stopped its reads on the server.
/// </summary>
public sealed class SearchGate
{
    private readonly Lock _lock = new();
    private int _allowed = int.MaxValue;
    private TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _parked = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int ReadsPassed { get; private set; }

    /// <summary>Completes when a read is parked at the gate.</summary>
    public Task Parked => _parked.Task;

    /// <summary>Completes when a parked read's search was cancelled.</summary>
    public Task Cancelled => _cancelled.Task;

    public void HoldAfter(int reads)
    {
        lock (_lock)
        {
            _allowed = reads;
            ReadsPassed = 0;
            _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
            _parked = new(TaskCreationOptions.RunContinuationsAsynchronously);
            _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public void Open()
    {
        lock (_lock)
        {
            _allowed = int.MaxValue;
            _release.TrySetResult();
        }
    }

    public async ValueTask BeforeReadAsync(CancellationToken cancellationToken)
    {
        Task release;
        lock (_lock)
        {
            if (ReadsPassed < _allowed)
            {
                ReadsPassed++;
                return;
            }

            release = _release.Task;
            _parked.TrySetResult();
        }

        try
        {
            await release.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            _cancelled.TrySetResult();
            throw;
        }

        lock (_lock)
        {
            ReadsPassed++;
        }
    }
}
