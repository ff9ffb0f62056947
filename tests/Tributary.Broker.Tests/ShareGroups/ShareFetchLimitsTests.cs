using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.ShareGroups;

// Broker tier: the limits of one ShareFetch as Kafka 4.2 applies them: MaxRecords with ShareAcquireMode (v2
// batch_optimized finishes a stored batch, record_limit splits it), AcquiredRecords ranges aligned to BatchSize at
// batch boundaries, MaxBytes over the whole response with at least one batch, and MinBytes, which parks the fetch
// without acquiring.
public sealed class ShareFetchLimitsTests : IDisposable
{
    private readonly ShareTestBroker _kafka = new();

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public async Task Record_limit_mode_never_acquires_more_than_MaxRecords_and_splits_a_batch()
    {
        _kafka.Produce(0, "a", "b", "c", "d", "e", "f", "g", "h", "i", "j");
        var first = await FetchAsync("m1", maxRecords: 4, acquireMode: 1);
        Assert.Equal([(0L, 3L, (short)1)], ShareTestBroker.Acquired(first));
        Assert.Equal(["a", "b", "c", "d"], ShareTestBroker.Values(first));

        // The rest of the batch is still available: the next member takes the next four.
        var second = await FetchAsync("m2", maxRecords: 4, acquireMode: 1);
        Assert.Equal([(4L, 7L, (short)1)], ShareTestBroker.Acquired(second));

        // batch_optimized (0) finishes the stored batch past MaxRecords, version 2 as version 1.
        _kafka.Produce(1, "k", "l", "m", "n", "o");
        var whole = await FetchAsync("m3", maxRecords: 2, acquireMode: 0, partitions: [1]);
        Assert.Equal([(0L, 4L, (short)1)], ShareTestBroker.Acquired(whole, partition: 1));
    }

    [Fact]
    public async Task Record_limit_mode_counts_redeliveries_and_new_records_together()
    {
        _kafka.Produce(0, "a", "b");
        _kafka.Produce(0, "c", "d", "e");
        await FetchAsync("m1", maxRecords: 2, acquireMode: 1);
        Assert.Equal(0, ShareTestBroker.AckError(await _kafka.AcknowledgeAsync("m1", 1, (0, 0, 1, AcknowledgeKind.Release))));

        var next = await FetchAsync("m2", maxRecords: 3, acquireMode: 1);
        Assert.Equal([(0L, 1L, (short)2), (2L, 2L, (short)1)], ShareTestBroker.Acquired(next));
    }

    [Fact]
    public async Task An_unknown_acquire_mode_is_an_invalid_request()
    {
        _kafka.Produce(0, "a");
        var response = await FetchAsync("m1", maxRecords: 10, acquireMode: 2, expectOk: false);
        Assert.Equal((short)ErrorCode.InvalidRequest, response.ErrorCode);
    }

    [Fact]
    public async Task Acquired_ranges_close_at_the_first_batch_boundary_at_or_past_BatchSize()
    {
        for (var i = 0; i < 5; i++)
        {
            _kafka.Produce(0, $"r{2 * i}", $"r{(2 * i) + 1}");
        }

        // Batches of two: 0-1 is short of 3, 0-3 reaches it; then 4-7, and the rest.
        var response = await FetchAsync("m1", maxRecords: 500, batchSize: 3);
        Assert.Equal([(0L, 3L, (short)1), (4L, 7L, (short)1), (8L, 9L, (short)1)], ShareTestBroker.Acquired(response));

        // A stored batch larger than BatchSize is not split in batch_optimized mode.
        _kafka.Produce(1, "a", "b", "c", "d", "e");
        var big = await FetchAsync("m2", maxRecords: 500, batchSize: 2, partitions: [1]);
        Assert.Equal([(0L, 4L, (short)1)], ShareTestBroker.Acquired(big, partition: 1));
    }

    [Fact]
    public async Task MaxBytes_bounds_the_response_but_its_first_batch_always_comes()
    {
        _kafka.Produce(0, "aaaa", "bbbb");
        _kafka.Produce(0, "cccc", "dddd");
        _kafka.Produce(0, "eeee", "ffff");
        _kafka.Produce(1, "gggg", "hhhh");

        // One byte: still the first batch, and nothing from partition 1.
        var one = await FetchAsync("m1", maxRecords: 500, maxBytes: 1, partitions: [0, 1]);
        Assert.Equal([(0L, 1L, (short)1)], ShareTestBroker.Acquired(one));
        Assert.Empty(ShareTestBroker.Acquired(one, partition: 1));
        var batchBytes = RecordBytes(one, 0);

        // Room for two batches (all three are the same size): two of partition 0, none of partition 1.
        var two = await FetchAsync("m2", maxRecords: 500, maxBytes: (2 * batchBytes) + 1, partitions: [0, 1]);
        Assert.Equal([(2L, 5L, (short)1)], ShareTestBroker.Acquired(two));
        Assert.Equal(2 * batchBytes, RecordBytes(two, 0));
        Assert.Empty(ShareTestBroker.Acquired(two, partition: 1));

        // The default (no limit) takes what is left.
        var rest = await FetchAsync("m3", maxRecords: 500, partitions: [0, 1]);
        Assert.Equal([(0L, 1L, (short)1)], ShareTestBroker.Acquired(rest, partition: 1));
    }

    [Fact]
    public async Task MinBytes_parks_the_fetch_without_acquiring_until_enough_bytes_are_there()
    {
        var pending = ParkedFetchAsync(maxWaitMs: 10_000);

        // Parked, and holding no lock: another member's fetch without MinBytes gets the record.
        await Task.Delay(50);
        Assert.False(pending.IsCompleted);
        Assert.Equal([(0L, 0L, (short)1)], ShareTestBroker.Acquired(await FetchAsync("m2", maxRecords: 500)));

        // Enough bytes arrive: the parked fetch acquires them (not what m2 holds).
        var big = new string('x', 1_200);
        _kafka.Produce(0, big);
        var response = await pending.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal([(1L, 1L, (short)1)], ShareTestBroker.Acquired(response));
    }

    [Fact]
    public async Task MinBytes_not_reached_by_MaxWaitMs_answers_with_what_is_there()
    {
        var pending = ParkedFetchAsync(maxWaitMs: 500);
        await Task.Delay(50);
        _kafka.Time.Advance(TimeSpan.FromMilliseconds(500));
        var response = await pending.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal([(0L, 0L, (short)1)], ShareTestBroker.Acquired(response));
    }

    // One small record, then m1's fetch asking for 1000 bytes at least.
    private Task<ShareFetchResponse> ParkedFetchAsync(int maxWaitMs)
    {
        _kafka.Produce(0, "aaaa");
        var request = _kafka.FetchRequest("m1", 0, maxWaitMs: maxWaitMs);
        request.MinBytes = 1_000;
        return _kafka.SendAsync(_kafka.Fetch, request, 2);
    }

    private static int RecordBytes(ShareFetchResponse response, int partition) =>
        response.Responses.SelectMany(t => t.Partitions).Single(p => p.PartitionIndex == partition).Records?.Length ?? 0;

    private async Task<ShareFetchResponse> FetchAsync(string memberId, int maxRecords, int? batchSize = null, sbyte acquireMode = 0, int maxBytes = int.MaxValue, int[]? partitions = null, bool expectOk = true)
    {
        var request = _kafka.FetchRequest(memberId, 0, partitions, maxRecords: maxRecords);
        request.BatchSize = batchSize ?? maxRecords;
        request.ShareAcquireMode = acquireMode;
        request.MaxBytes = maxBytes;
        var response = await _kafka.SendAsync(_kafka.Fetch, request, 2);
        if (expectOk)
        {
            Assert.Equal(0, response.ErrorCode);
        }

        return response;
    }
}
