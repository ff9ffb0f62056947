using System.IO.Pipelines;
using Tributary.Server.Networking;

namespace Tributary.Server.Tests;

/// <summary>
/// The deadline that bounds a connection's wait for input: it cancels the pending read when the wait's time runs
/// out, and a timer that fired for an earlier wait never counts as the next wait timing out.
/// </summary>
public sealed class ReadDeadlineTests
{
    [Fact]
    public async Task A_wait_that_runs_out_cancels_the_pending_read_and_says_so()
    {
        var pipe = new Pipe();
        using var deadline = new ReadDeadline(pipe.Reader);

        var reading = pipe.Reader.ReadAsync();
        deadline.Arm(20);
        var read = await reading.AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(read.IsCanceled);
        Assert.True(deadline.Disarm());
    }

    [Fact]
    public async Task A_read_that_completes_in_time_is_not_a_time_out()
    {
        var pipe = new Pipe();
        using var deadline = new ReadDeadline(pipe.Reader);

        var reading = pipe.Reader.ReadAsync();
        deadline.Arm(60_000);
        await pipe.Writer.WriteAsync(new byte[] { 1 });
        var read = await reading.AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.False(read.IsCanceled);
        Assert.False(deadline.Disarm());
    }

    [Fact]
    public async Task A_timer_that_fired_for_an_earlier_wait_does_not_time_out_the_next()
    {
        var pipe = new Pipe();
        using var deadline = new ReadDeadline(pipe.Reader);

        // The first wait's time runs out while no read is pending (its read completed just before): the
        // cancellation it leaves behind reaches the next read.
        deadline.Arm(1);
        await Task.Delay(200);
        Assert.True(deadline.Disarm());

        deadline.Arm(60_000);
        var stray = await pipe.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(stray.IsCanceled);
        Assert.False(deadline.Disarm());
    }
}
