using Tributary.Broker.Handlers;
using Tributary.Broker.Tests.Groups;
using Tributary.Storage;

namespace Tributary.Broker.Tests;

/// <summary>A parked fetch wakes on an append to its partitions, a close request or max_wait_ms, and on nothing else.</summary>
public sealed class FetchWaiterTests : IDisposable
{
    private readonly TestBroker _broker = new();
    private readonly ManualTimeProvider _time = new();
    private readonly PartitionLog _watched;
    private readonly PartitionLog _other;

    public FetchWaiterTests()
    {
        _watched = _broker.Core.FindLog(_broker.CreateTopic("watched"), 0)!;
        _other = _broker.Core.FindLog(_broker.CreateTopic("other"), 0)!;
    }

    [Fact]
    public async Task An_append_to_an_armed_partition_wakes_the_wait()
    {
        using var waiter = new FetchWaiter(_time, 500);
        waiter.Arm([_watched]);

        var waiting = waiter.WaitAsync(waiter.Remaining, CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);
        _watched.Append(TestBroker.Batch("a"));

        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task An_append_between_arming_and_waiting_is_not_missed()
    {
        using var waiter = new FetchWaiter(_time, 500);
        waiter.Arm([_watched]);
        _watched.Append(TestBroker.Batch("a"));

        Assert.True(waiter.IsWoken);
        Assert.True(await waiter.WaitAsync(waiter.Remaining, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task An_append_elsewhere_does_not_wake_it_and_max_wait_ends_it()
    {
        using var waiter = new FetchWaiter(_time, 500);
        waiter.Arm([_watched]);

        var waiting = waiter.WaitAsync(waiter.Remaining, CancellationToken.None).AsTask();
        _other.Append(TestBroker.Batch("a"));
        _time.Advance(TimeSpan.FromMilliseconds(499));
        Assert.False(waiting.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.False(await waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(waiter.Remaining <= TimeSpan.Zero);
    }

    [Fact]
    public async Task A_close_request_wakes_the_wait()
    {
        using var close = new CancellationTokenSource();
        using var waiter = new FetchWaiter(_time, 500, closeRequested: close.Token);
        waiter.Arm([_watched]);

        var waiting = waiter.WaitAsync(waiter.Remaining, CancellationToken.None).AsTask();
        await close.CancelAsync();

        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_closing_connection_cancels_the_wait()
    {
        using var connection = new CancellationTokenSource();
        using var waiter = new FetchWaiter(_time, 500);
        waiter.Arm([_watched]);

        var waiting = waiter.WaitAsync(waiter.Remaining, connection.Token).AsTask();
        await connection.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task After_a_wait_it_listens_only_once_armed_again()
    {
        using var waiter = new FetchWaiter(_time, 500);
        waiter.Arm([_watched]);
        _watched.Append(TestBroker.Batch("a"));
        await waiter.WaitAsync(waiter.Remaining, CancellationToken.None);

        waiter.Arm([_other]);
        _watched.Append(TestBroker.Batch("b"));
        Assert.False(waiter.IsWoken);

        _other.Append(TestBroker.Batch("c"));
        Assert.True(waiter.IsWoken);
    }

    [Fact]
    public async Task A_woken_wait_resumes_on_the_connection_context()
    {
        var connectionThread = new RecordingContext();
        using var waiter = new FetchWaiter(_time, 500, resumeOn: connectionThread);
        waiter.Arm([_watched]);

        var waiting = waiter.WaitAsync(waiter.Remaining, CancellationToken.None).AsTask();
        _watched.Append(TestBroker.Batch("a"));

        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, connectionThread.Posts);
    }

    public void Dispose() => _broker.Dispose();

    /// <summary>Runs what is posted to it on the thread pool, counting the posts.</summary>
    private sealed class RecordingContext : SynchronizationContext
    {
        private int _posts;

        public int Posts => Volatile.Read(ref _posts);

        public override void Post(SendOrPostCallback d, object? state)
        {
            Interlocked.Increment(ref _posts);
            ThreadPool.QueueUserWorkItem(_ => d(state));
        }
    }
}
