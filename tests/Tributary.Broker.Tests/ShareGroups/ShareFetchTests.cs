using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.ShareGroups;

// Broker tier: ShareFetch and ShareAcknowledge through the handlers with a manual clock: acquisition and its lock,
// every acknowledge type, the delivery count limit, share sessions and their epochs, and each bad acknowledgement the
// issue lists, after which the state must be as before.
public sealed class ShareFetchTests : IDisposable
{
    private readonly ShareTestBroker _kafka = new();

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public async Task Two_members_share_a_partition_without_receiving_the_same_record()
    {
        _kafka.Produce(0, "a", "b", "c");
        var first = await _kafka.FetchAsync("m1", 0, maxRecords: 2);
        Assert.Equal([(0L, 2L, (short)1)], ShareTestBroker.Acquired(first));
        Assert.Equal(["a", "b", "c"], ShareTestBroker.Values(first));
        Assert.Equal(30_000, first.AcquisitionLockTimeoutMs);

        // The batch ends on offset 2, so m1 holds all three; m2 finds nothing until more arrives.
        Assert.Empty(ShareTestBroker.Acquired(await _kafka.FetchAsync("m2", 0)));
        _kafka.Produce(0, "d");
        var second = await _kafka.FetchAsync("m2", 1);
        Assert.Equal([(3L, 3L, (short)1)], ShareTestBroker.Acquired(second));
        Assert.Equal(["d"], ShareTestBroker.Values(second));
    }

    [Fact]
    public async Task Released_records_are_delivered_again_with_a_higher_count_and_accepted_or_rejected_ones_never()
    {
        _kafka.Produce(0, "a", "b", "c", "d");
        await _kafka.FetchAsync("m1", 0);
        var acked = await _kafka.FetchAsync("m1", 1, acks: [(0, 0, 0, AcknowledgeKind.Accept), (0, 1, 1, AcknowledgeKind.Reject), (0, 2, 3, AcknowledgeKind.Release)]);
        Assert.Equal(0, ShareTestBroker.AckError(acked));

        // The piggybacked release makes 2-3 available to the same fetch.
        Assert.Equal([(2L, 3L, (short)2)], ShareTestBroker.Acquired(acked));
        Assert.Equal(["c", "d"], ShareTestBroker.Values(acked));
        Assert.Equal(2, StartOffset());
    }

    [Fact]
    public async Task A_lock_that_expires_gives_the_records_to_another_member_and_the_first_cannot_acknowledge_them()
    {
        _kafka.Produce(0, "a", "b");
        await _kafka.FetchAsync("m1", 0);
        _kafka.Time.Advance(TimeSpan.FromMilliseconds(30_000));
        var other = await _kafka.FetchAsync("m2", 0);
        Assert.Equal([(0L, 1L, (short)2)], ShareTestBroker.Acquired(other));

        var late = await _kafka.AcknowledgeAsync("m1", 1, (0, 0, 1, AcknowledgeKind.Accept));
        Assert.Equal((short)ErrorCode.InvalidRecordState, ShareTestBroker.AckError(late));
        var owner = await _kafka.AcknowledgeAsync("m2", 1, (0, 0, 1, AcknowledgeKind.Accept));
        Assert.Equal(0, ShareTestBroker.AckError(owner));
        Assert.Equal(2, StartOffset());
    }

    [Fact]
    public async Task A_record_released_as_often_as_the_delivery_limit_is_archived_and_the_group_moves_on()
    {
        _kafka.SetGroupConfig("share.delivery.count.limit", "2");
        _kafka.Produce(0, "poison");
        _kafka.Produce(0, "fine");
        var epoch = 0;
        for (var delivery = 1; delivery <= 2; delivery++)
        {
            var fetched = await _kafka.FetchAsync("m1", epoch++, maxRecords: 1);
            Assert.Equal((short)delivery, ShareTestBroker.Acquired(fetched)[0].DeliveryCount);
            Assert.Equal(0, ShareTestBroker.Acquired(fetched)[0].First);
            Assert.Equal(0, ShareTestBroker.AckError(await _kafka.AcknowledgeAsync("m1", epoch++, (0, 0, 0, AcknowledgeKind.Release))));
        }

        var next = await _kafka.FetchAsync("m1", epoch, maxRecords: 1);
        Assert.Equal([(1L, 1L, (short)1)], ShareTestBroker.Acquired(next));
        Assert.Equal(1, StartOffset());
    }

    [Fact]
    public async Task A_member_that_vanishes_loses_its_records_after_the_lock_and_its_membership_after_the_session_timeout()
    {
        // m1 acquires and then neither acknowledges, closes its share session nor heartbeats; m2 stays alive.
        _kafka.Produce(0, "a", "b");
        var m1 = await _kafka.HeartbeatAsync("m1", 0, ShareTestBroker.Topic);
        var m2Epoch = (await _kafka.HeartbeatAsync("m2", 0, ShareTestBroker.Topic)).MemberEpoch;
        Assert.Equal([(0L, 1L, (short)1)], ShareTestBroker.Acquired(await _kafka.FetchAsync("m1", 0)));
        Assert.Empty(ShareTestBroker.Acquired(await _kafka.FetchAsync("m2", 0)));

        async Task AdvanceAsync(int ms)
        {
            _kafka.Time.Advance(TimeSpan.FromMilliseconds(ms));
            var beat = await _kafka.HeartbeatAsync("m2", m2Epoch);
            Assert.Equal(0, beat.ErrorCode);
            m2Epoch = beat.MemberEpoch;
        }

        // share.record.lock.duration.ms (30 s): the records go to m2, delivered for the second time.
        await AdvanceAsync(15_000);
        await AdvanceAsync(15_000);
        Assert.Equal([(0L, 1L, (short)2)], ShareTestBroker.Acquired(await _kafka.FetchAsync("m2", 1)));
        Assert.Equal(2, (await _kafka.SendAsync(_kafka.Describe, new ShareGroupDescribeRequest { GroupIds = [ShareTestBroker.Group] }, 1)).Groups.Single().Members.Count);

        // group.share.session.timeout.ms (45 s) after its last heartbeat m1 is removed with its share session; what m2
        // holds stays m2's.
        await AdvanceAsync(15_000);
        var described = (await _kafka.SendAsync(_kafka.Describe, new ShareGroupDescribeRequest { GroupIds = [ShareTestBroker.Group] }, 1)).Groups.Single();
        Assert.Equal(["m2"], described.Members.Select(m => m.MemberId));
        Assert.Equal((short)ErrorCode.UnknownMemberId, (await _kafka.HeartbeatAsync("m1", m1.MemberEpoch)).ErrorCode);
        Assert.Equal((short)ErrorCode.ShareSessionNotFound, (await _kafka.FetchAsync("m1", 1)).ErrorCode);
        Assert.Equal(0, ShareTestBroker.AckError(await _kafka.AcknowledgeAsync("m2", 2, (0, 0, 1, AcknowledgeKind.Accept))));
    }

    [Fact]
    public async Task Renew_in_version_2_keeps_the_lock_and_is_invalid_in_version_1()
    {
        _kafka.Produce(0, "a");
        await _kafka.FetchAsync("m1", 0);
        Assert.Equal((short)ErrorCode.InvalidRequest, ShareTestBroker.AckError(await _kafka.AcknowledgeAsync("m1", 1, [(0, 0L, 0L, new[] { (sbyte)AcknowledgeKind.Renew })])));

        _kafka.Time.Advance(TimeSpan.FromMilliseconds(20_000));
        var renewed = await _kafka.AcknowledgeAsync("m1", 2, [(0, 0L, 0L, new[] { (sbyte)AcknowledgeKind.Renew })], version: 2, renew: true);
        Assert.Equal(0, ShareTestBroker.AckError(renewed));
        Assert.Equal(30_000, renewed.AcquisitionLockTimeoutMs);

        // 40 s after the fetch, 20 s after the renewal: still m1's.
        _kafka.Time.Advance(TimeSpan.FromMilliseconds(20_000));
        Assert.Empty(ShareTestBroker.Acquired(await _kafka.FetchAsync("m2", 0)));
        Assert.Equal(0, ShareTestBroker.AckError(await _kafka.AcknowledgeAsync("m1", 3, (0, 0, 0, AcknowledgeKind.Accept))));
    }

    [Fact]
    public async Task Bad_acknowledgements_are_refused_and_change_nothing()
    {
        _kafka.Produce(0, "a", "b", "c");
        await _kafka.FetchAsync("m1", 0);
        var epoch = 1;

        // Never acquired (beyond the end), below the start, another member's, malformed, overlapping.
        Assert.Equal((short)ErrorCode.InvalidRecordState, ShareTestBroker.AckError(await _kafka.AcknowledgeAsync("m1", epoch++, (0, 1, 5, AcknowledgeKind.Accept))));
        var otherEpoch = await OpenAsync("m2");
        Assert.Equal((short)ErrorCode.InvalidRecordState, ShareTestBroker.AckError(await _kafka.AcknowledgeAsync("m2", otherEpoch, (0, 0, 0, AcknowledgeKind.Accept))));
        Assert.Equal((short)ErrorCode.InvalidRequest, ShareTestBroker.AckError(await _kafka.AcknowledgeAsync("m1", epoch++, (0, 2, 1, AcknowledgeKind.Accept))));
        Assert.Equal((short)ErrorCode.InvalidRequest, ShareTestBroker.AckError(await _kafka.AcknowledgeAsync("m1", epoch++, [(0, 0L, 2L, new sbyte[] { 1, 1 })])));
        Assert.Equal((short)ErrorCode.InvalidRequest, ShareTestBroker.AckError(await _kafka.AcknowledgeAsync("m1", epoch++, [(0, 0L, 0L, new sbyte[] { 9 })])));
        Assert.Equal((short)ErrorCode.InvalidRequest, ShareTestBroker.AckError(await _kafka.AcknowledgeAsync("m1", epoch++, (0, 0, 1, AcknowledgeKind.Accept), (0, 1, 2, AcknowledgeKind.Accept))));

        // A batch that is partly valid applies nothing: offset 0 is still m1's.
        Assert.Equal((short)ErrorCode.InvalidRecordState, ShareTestBroker.AckError(await _kafka.AcknowledgeAsync("m1", epoch++, (0, 0, 0, AcknowledgeKind.Accept), (0, 7, 7, AcknowledgeKind.Accept))));
        Assert.Equal(0, ShareTestBroker.AckError(await _kafka.AcknowledgeAsync("m1", epoch++, (0, 0, 2, AcknowledgeKind.Accept))));

        // Acknowledging twice, and below the start offset now.
        Assert.Equal((short)ErrorCode.InvalidRecordState, ShareTestBroker.AckError(await _kafka.AcknowledgeAsync("m1", epoch++, (0, 0, 2, AcknowledgeKind.Accept))));
        Assert.Equal(3, StartOffset());
    }

    [Fact]
    public async Task Session_epochs_are_checked_and_closing_the_session_releases_the_records()
    {
        _kafka.Produce(0, "a");
        Assert.Equal((short)ErrorCode.ShareSessionNotFound, (await _kafka.FetchAsync("m1", 1)).ErrorCode);
        Assert.Equal((short)ErrorCode.ShareSessionNotFound, (await _kafka.AcknowledgeAsync("m1", 1, (0, 0, 0, AcknowledgeKind.Accept))).ErrorCode);
        Assert.Equal((short)ErrorCode.InvalidRequest, (await _kafka.FetchAsync("m1", 0, acks: [(0, 0, 0, AcknowledgeKind.Accept)])).ErrorCode);

        Assert.Single(ShareTestBroker.Acquired(await _kafka.FetchAsync("m1", 0)));
        Assert.Equal((short)ErrorCode.InvalidShareSessionEpoch, (await _kafka.FetchAsync("m1", 5)).ErrorCode);
        Assert.Equal((short)ErrorCode.InvalidShareSessionEpoch, (await _kafka.AcknowledgeAsync("m1", 0, (0, 0, 0, AcknowledgeKind.Accept))).ErrorCode);
        Assert.Equal(0, (await _kafka.FetchAsync("m1", 1)).ErrorCode);

        // The stale epoch 1 again, then the right one (2) closes the session.
        Assert.Equal((short)ErrorCode.InvalidShareSessionEpoch, (await _kafka.FetchAsync("m1", 1)).ErrorCode);
        Assert.Equal(0, (await _kafka.FetchAsync("m1", -1, partitions: [])).ErrorCode);
        Assert.Equal((short)ErrorCode.ShareSessionNotFound, (await _kafka.FetchAsync("m1", 2)).ErrorCode);
        Assert.Equal([(0L, 0L, (short)2)], ShareTestBroker.Acquired(await _kafka.FetchAsync("m2", 0)));
    }

    [Fact]
    public async Task A_fetch_with_nothing_to_acquire_waits_for_an_append()
    {
        await _kafka.FetchAsync("m1", 0);
        var waiting = _kafka.FetchAsync("m1", 1, maxWaitMs: 10_000);
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);
        _kafka.Produce(0, "late");
        var response = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(["late"], ShareTestBroker.Values(response));
    }

    [Fact]
    public async Task Latest_starts_at_the_high_watermark_and_earliest_at_the_log_start()
    {
        _kafka.SetGroupConfig("share.auto.offset.reset", "latest");
        _kafka.Produce(1, "old");
        Assert.Empty(ShareTestBroker.Acquired(await _kafka.FetchAsync("m1", 0, partitions: [1]), 1));
        _kafka.Produce(1, "new");
        Assert.Equal([(1L, 1L, (short)1)], ShareTestBroker.Acquired(await _kafka.FetchAsync("m1", 1), 1));
    }

    [Fact]
    public async Task The_in_flight_limit_stops_acquisition_until_records_are_done()
    {
        _kafka.SetGroupConfig("share.partition.max.record.locks", "100");
        for (var i = 0; i < 150; i++)
        {
            _kafka.Produce(0, $"r{i}");
        }

        var first = await _kafka.FetchAsync("m1", 0, maxRecords: 1000);
        Assert.Equal([(0L, 99L, (short)1)], ShareTestBroker.Acquired(first));
        Assert.Empty(ShareTestBroker.Acquired(await _kafka.FetchAsync("m2", 0)));
        var after = await _kafka.FetchAsync("m1", 1, acks: [(0, 0, 49, AcknowledgeKind.Accept)], maxRecords: 1000);
        Assert.Equal([(100L, 149L, (short)1)], ShareTestBroker.Acquired(after));
    }

    [Fact]
    public async Task A_member_that_left_the_group_still_closes_its_session_with_its_last_acknowledgements()
    {
        _kafka.Produce(0, "a", "b");
        var joined = await _kafka.HeartbeatAsync("m1", 0, ShareTestBroker.Topic);
        await _kafka.FetchAsync("m1", 0);
        await _kafka.HeartbeatAsync("m1", -1);

        // As librdkafka closes: the leave first, then the acknowledgements with epoch -1.
        var closed = await _kafka.AcknowledgeAsync("m1", -1, (0, 0, 0, AcknowledgeKind.Accept));
        Assert.Equal(0, ShareTestBroker.AckError(closed));
        Assert.Equal((short)ErrorCode.ShareSessionNotFound, (await _kafka.FetchAsync("m1", 1)).ErrorCode);
        Assert.Equal([(1L, 1L, (short)2)], ShareTestBroker.Acquired(await _kafka.FetchAsync("m2", 0)));
        Assert.Equal(1, joined.MemberEpoch);
    }

    [Fact]
    public async Task A_full_session_cache_refuses_new_sessions_until_one_is_idle_for_a_session_timeout()
    {
        using var kafka = new ShareTestBroker(null, null, "group.share.max.share.sessions=1");
        Assert.Equal(0, (await kafka.FetchAsync("m1", 0)).ErrorCode);
        Assert.Equal((short)ErrorCode.ShareSessionLimitReached, (await kafka.FetchAsync("m2", 0)).ErrorCode);

        kafka.Time.Advance(TimeSpan.FromMilliseconds(45_001));
        Assert.Equal(0, (await kafka.FetchAsync("m2", 0)).ErrorCode);
        Assert.Equal((short)ErrorCode.ShareSessionNotFound, (await kafka.FetchAsync("m1", 1)).ErrorCode);
    }

    private async Task<int> OpenAsync(string memberId)
    {
        Assert.Equal(0, (await _kafka.FetchAsync(memberId, 0, partitions: [])).ErrorCode);
        return 1;
    }

    private long StartOffset() => _kafka.Core.ShareGroups.PartitionsOf(ShareTestBroker.Group).Single(p => p.Key.Partition == 0).StartOffset;
}
