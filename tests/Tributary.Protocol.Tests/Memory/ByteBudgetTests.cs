namespace Tributary.Protocol.Tests.Memory;

/// <summary>The broker-wide byte bound: what it grants at once, whom it makes wait, and in which order it lets them in.</summary>
public sealed class ByteBudgetTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public void Reservations_within_the_limit_are_granted_at_once()
    {
        var budget = new ByteBudget(100);
        Assert.True(budget.TryReserve(60));
        Assert.True(budget.TryReserve(40));
        Assert.False(budget.TryReserve(1));
        Assert.Equal(100, budget.UsedBytes);
        budget.Release(100);
        Assert.Equal(0, budget.UsedBytes);
        Assert.Equal(100, budget.PeakBytes);
    }

    [Fact]
    public void One_reservation_larger_than_the_limit_proceeds_alone()
    {
        var budget = new ByteBudget(100);
        Assert.True(budget.TryReserve(250));
        Assert.False(budget.TryReserve(1));
        budget.Release(250);
        Assert.True(budget.TryReserve(1));
    }

    [Fact]
    public async Task A_waiter_is_granted_when_a_release_makes_room()
    {
        var budget = new ByteBudget(100);
        Assert.True(budget.TryReserve(80));
        var waiting = budget.ReserveAsync(50).AsTask();
        Assert.False(waiting.IsCompleted);

        budget.Release(80);
        await waiting.WaitAsync(Generous);
        Assert.Equal(50, budget.UsedBytes);
    }

    [Fact]
    public async Task Waiters_are_served_in_order_so_a_large_one_is_not_starved()
    {
        var budget = new ByteBudget(100);
        Assert.True(budget.TryReserve(60));
        var large = budget.ReserveAsync(90).AsTask();

        // Would fit beside the 60, but the 90 came first.
        var small = budget.ReserveAsync(10).AsTask();
        Assert.False(budget.TryReserve(10));
        Assert.False(small.IsCompleted);

        budget.Release(60);
        await large.WaitAsync(Generous);
        await small.WaitAsync(Generous);
        Assert.Equal(100, budget.UsedBytes);
    }

    [Fact]
    public async Task A_cancelled_waiter_reserves_nothing_and_lets_the_next_in()
    {
        var budget = new ByteBudget(100);
        Assert.True(budget.TryReserve(60));
        using var cancel = new CancellationTokenSource();
        var large = budget.ReserveAsync(90, cancel.Token).AsTask();
        var small = budget.ReserveAsync(40).AsTask();

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => large.WaitAsync(Generous));
        await small.WaitAsync(Generous);
        Assert.Equal(100, budget.UsedBytes);
    }

    [Fact]
    public void A_blocking_reservation_gives_up_after_its_wait()
    {
        var budget = new ByteBudget(100);
        Assert.True(budget.TryReserve(100));
        Assert.False(budget.Reserve(1, TimeSpan.FromMilliseconds(50)));
        Assert.Equal(100, budget.UsedBytes);
        budget.Release(100);
        Assert.True(budget.Reserve(1, TimeSpan.FromMilliseconds(50)));
    }

    [Fact]
    public void Unbounded_never_waits()
    {
        var budget = new ByteBudget(-1);
        Assert.False(budget.IsBounded);
        Assert.True(budget.TryReserve(long.MaxValue / 2));
        Assert.True(budget.TryReserve(long.MaxValue / 4));
    }

    [Fact]
    public void Releasing_more_than_was_reserved_is_a_bug()
    {
        var budget = new ByteBudget(100);
        Assert.True(budget.TryReserve(10));
        Assert.Throws<InvalidOperationException>(() => budget.Release(11));
    }
}
