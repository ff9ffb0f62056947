using Tributary.Broker.Cluster;
using Tributary.Protocol;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// Cluster-wide producer ids against a real etcd of 3 members: each broker hands out ids from blocks it reserved with a
/// compare-and-swap on <c>producer_ids</c>, so brokers allocating at once never hand out one id twice, and a broker
/// started again takes a fresh block above every id handed out before.
/// </summary>
public sealed class ProducerIdBlockTests(EtcdFixture fixture) : IClassFixture<EtcdFixture>, IAsyncLifetime
{
    // More than one block per broker, so the prefetch of the next block is used too.
    private const int IdsPerBroker = (int)(ProducerIdBlocks.BlockSize * 3 / 2);

    private readonly EtcdBrokers _brokers = new(fixture.Etcd, "pids");

    [Fact]
    public async Task Brokers_allocating_at_once_hand_out_distinct_ids_and_a_restarted_broker_takes_a_fresh_block()
    {
        await _brokers.StartAllAsync(3);
        var allocations = await Task.WhenAll(_brokers.Running.Values.Select(b => Task.Run(() => Allocate(b, IdsPerBroker))));
        var ids = allocations.SelectMany(a => a).ToList();
        Assert.Equal(3 * IdsPerBroker, ids.Distinct().Count());

        // Each broker's ids come in whole blocks of its own: no block is split between brokers.
        var blockOwners = allocations.SelectMany((a, broker) => a.Select(id => (Block: id / ProducerIdBlocks.BlockSize, Broker: broker)))
            .GroupBy(x => x.Block).Select(g => g.Select(x => x.Broker).Distinct().Count());
        Assert.All(blockOwners, owners => Assert.Equal(1, owners));

        await _brokers.StopAsync(1);
        await _brokers.StartAsync(1);
        var afterRestart = Allocate(_brokers[1], 1).Single();
        Assert.True(afterRestart > ids.Max(), $"id {afterRestart} after the restart is not above every earlier id ({ids.Max()})");
    }

    private static List<long> Allocate(TributaryBroker broker, int count)
    {
        var ids = new List<long>(count);
        for (var attempt = 0; ids.Count < count; attempt++)
        {
            Assert.True(attempt < 100 * count, "InitProducerId kept answering COORDINATOR_LOAD_IN_PROGRESS");
            var (error, producerId, epoch) = broker.Core.Transactions.InitProducerId(null, 60_000, -1, -1, fencedErrorSupported: true);
            if (error == ErrorCode.CoordinatorLoadInProgress)
            {
                // The next block is still on its way from etcd: retried, as clients do.
                continue;
            }

            Assert.Equal(ErrorCode.None, error);
            Assert.Equal(0, epoch);
            ids.Add(producerId);
        }

        return ids;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _brokers.DisposeAsync();
}
