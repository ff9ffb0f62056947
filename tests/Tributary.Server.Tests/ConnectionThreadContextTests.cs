using Tributary.Server.Networking;

namespace Tributary.Server.Tests;

/// <summary>How work posted to a connection's thread runs: on the thread that waits, in order, and on the thread pool once it has ended.</summary>
public sealed class ConnectionThreadContextTests
{
    [Fact]
    public async Task WorkPostedFromOtherThreadsRunsInOrderOnTheThreadThatWaits()
    {
        using var context = ConnectionThreadContext.TryCreate();
        Assert.NotNull(context); // these tests run on Linux, where eventfd(2) exists

        var ran = new List<(int Item, int Thread)>();
        var readable = false;
        var done = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiter = new Thread(() =>
        {
            // Waits without a socket until the last item has run; each Wait runs what was posted by then.
            while (ran.Count < 3)
            {
                readable |= context.Wait(-1); // no socket: never "readable"
            }

            done.TrySetResult(Environment.CurrentManagedThreadId);
        });
        waiter.Start();

        await Task.Run(() =>
        {
            for (var i = 0; i < 3; i++)
            {
                context.Post(state => ran.Add(((int)state!, Environment.CurrentManagedThreadId)), i);
            }
        });

        var waiterId = await done.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(readable);
        Assert.Equal([0, 1, 2], ran.Select(r => r.Item));
        Assert.All(ran, r => Assert.Equal(waiterId, r.Thread));
        Assert.False(context.HasWork);
    }

    [Fact]
    public async Task WakeEndsAWaitWithNothingPosted()
    {
        using var context = ConnectionThreadContext.TryCreate();
        Assert.NotNull(context);
        var waiting = Task.Factory.StartNew(() => context.Wait(-1), TaskCreationOptions.LongRunning);
        await Task.Delay(50);
        context.Wake();
        Assert.False(await waiting.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task WorkQueuedWhenTheThreadEndsAndWorkPostedAfterRunsOnTheThreadPool()
    {
        var context = ConnectionThreadContext.TryCreate();
        Assert.NotNull(context);
        var queued = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var after = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);

        // Nobody waits: the item stays queued until Close hands it to the thread pool.
        context.Post(_ => queued.TrySetResult(Thread.CurrentThread.IsThreadPoolThread), null);
        Assert.True(context.HasWork);
        context.Close();
        context.Post(_ => after.TrySetResult(Thread.CurrentThread.IsThreadPoolThread), null);

        Assert.True(await queued.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(await after.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        context.Wake(); // closed: harmless
    }

    [Fact]
    public async Task PostsBeyondTheQueueLimitRunOnTheThreadPoolAndEveryItemRunsOnce()
    {
        using var context = ConnectionThreadContext.TryCreate();
        Assert.NotNull(context);
        var total = ConnectionThreadContext.PostedMax + 10;
        var runs = new int[total];
        var onPool = 0;

        // RunPosted runs on this thread, which may itself be a pool thread: items elsewhere are the ones sent to the pool.
        var runner = Environment.CurrentManagedThreadId;
        for (var i = 0; i < total; i++)
        {
            context.Post(state =>
            {
                Interlocked.Increment(ref runs[(int)state!]);
                if (Environment.CurrentManagedThreadId != runner)
                {
                    Interlocked.Increment(ref onPool);
                }
            }, i);
        }

        // The first PostedMax wait for this thread; the rest ran (or will) on the pool.
        context.RunPosted();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (runs.Any(r => r == 0) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.All(runs, r => Assert.Equal(1, r));
        Assert.Equal(10, Volatile.Read(ref onPool));
    }
}
