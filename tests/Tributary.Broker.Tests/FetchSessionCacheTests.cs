using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests;

/// <summary>
/// The fetch session cache on its own, on a manual clock: the slot bound, Kafka's eviction order (a stale session
/// first, else the smallest old session for a larger new one, never a young one), and the update errors.
/// </summary>
public sealed class FetchSessionCacheTests
{
    private readonly ManualTimeProvider _time = new();

    [Fact]
    public void A_full_cache_of_young_sessions_gives_a_new_request_no_session()
    {
        var cache = new FetchSessionCache(2, _time);
        var first = Create(cache, 1);
        var second = Create(cache, 1);

        Assert.NotEqual(0, first);
        Assert.NotEqual(0, second);
        Assert.NotEqual(first, second);
        Assert.Equal(0, Create(cache, 100));
        Assert.Equal(2, cache.Count);
    }

    [Fact]
    public void Zero_slots_make_no_session()
    {
        var cache = new FetchSessionCache(0, _time);

        Assert.Equal(0, Create(cache, 3));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void A_session_unused_for_the_eviction_time_makes_room_first()
    {
        var cache = new FetchSessionCache(2, _time);
        var idle = Create(cache, 5);
        var busy = Create(cache, 1);
        _time.Advance(TimeSpan.FromSeconds(100));
        Assert.Equal(ErrorCode.None, Touch(cache, busy, epoch: 1));
        _time.Advance(TimeSpan.FromSeconds(30));

        var created = Create(cache, 1);

        Assert.NotEqual(0, created);
        Assert.False(cache.Contains(idle));
        Assert.True(cache.Contains(busy));
    }

    [Fact]
    public void Without_a_stale_session_the_smallest_old_one_gives_way_to_a_larger_new_one()
    {
        var cache = new FetchSessionCache(2, _time);
        var small = Create(cache, 1);
        var large = Create(cache, 3);
        _time.Advance(TimeSpan.FromSeconds(121));
        Assert.Equal(ErrorCode.None, Touch(cache, small, epoch: 1));
        Assert.Equal(ErrorCode.None, Touch(cache, large, epoch: 1));

        // Not larger than the smallest old session (1 partition): no session.
        Assert.Equal(0, Create(cache, 1));

        var larger = Create(cache, 2);
        Assert.NotEqual(0, larger);
        Assert.False(cache.Contains(small));
        Assert.True(cache.Contains(large));

        // The new session is young and the other one larger: nothing gives way.
        Assert.Equal(0, Create(cache, 2));
    }

    [Fact]
    public void An_update_needs_the_sessions_next_epoch_and_its_kind_of_topic_names()
    {
        var cache = new FetchSessionCache(10, _time);
        var id = Create(cache, 2);

        Assert.Equal(ErrorCode.FetchSessionIdNotFound, Touch(cache, id + 1, epoch: 1));
        Assert.Equal(ErrorCode.InvalidFetchSessionEpoch, Touch(cache, id, epoch: 2));
        Assert.Equal(ErrorCode.FetchSessionTopicIdError, cache.Update(id, 1, usesTopicIds: true, [], []).Error);
        Assert.Equal(ErrorCode.None, Touch(cache, id, epoch: 1));
        Assert.Equal(ErrorCode.InvalidFetchSessionEpoch, Touch(cache, id, epoch: 1));
        Assert.Equal(ErrorCode.None, Touch(cache, id, epoch: 2));
    }

    [Fact]
    public void An_update_adds_changes_and_forgets_partitions_and_one_that_empties_the_session_closes_it()
    {
        var cache = new FetchSessionCache(10, _time);
        var id = Create(cache, 2);

        var (error, session, targets) = cache.Update(id, 1, false, [Target(1, offset: 7), Target(5, offset: 3)], [Target(0, 0).Key]);

        Assert.Equal(ErrorCode.None, error);
        Assert.Equal(2, session!.Epoch);
        Assert.Equal(new[] { Target(1, 7), Target(5, 3) }, targets);

        (error, session, targets) = cache.Update(id, 2, false, [], [Target(1, 0).Key, Target(5, 0).Key]);

        Assert.Equal(ErrorCode.None, error);
        Assert.Null(session);
        Assert.Empty(targets);
        Assert.False(cache.Contains(id));
    }

    [Fact]
    public void Epochs_wrap_to_one_and_stay_final_once_final()
    {
        Assert.Equal(1, FetchSession.NextEpoch(0));
        Assert.Equal(2, FetchSession.NextEpoch(1));
        Assert.Equal(1, FetchSession.NextEpoch(int.MaxValue));
        Assert.Equal(-1, FetchSession.NextEpoch(-1));
    }

    private static FetchTarget Target(int partition, long offset) => new("t", Guid.Empty, partition, offset, 1024);

    private static int Create(FetchSessionCache cache, int partitions)
    {
        var targets = Enumerable.Range(0, partitions).Select(p => Target(p, 0)).ToList();
        var sent = targets.Select(_ => new FetchResponse.PartitionData { HighWatermark = 0, LastStableOffset = 0, LogStartOffset = 0 }).ToList();
        return cache.TryCreate(usesTopicIds: false, targets, sent);
    }

    private static ErrorCode Touch(FetchSessionCache cache, int id, int epoch) => cache.Update(id, epoch, false, [], []).Error;
}
