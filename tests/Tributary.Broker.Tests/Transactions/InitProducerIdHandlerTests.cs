using Tributary.Broker.Config;
using Tributary.Protocol;

namespace Tributary.Broker.Tests.Transactions;

/// <summary>Proves producer id allocation, epoch bumps, timeout validation and KIP-360 fencing of InitProducerId.</summary>
public sealed class InitProducerIdHandlerTests
{
    [Fact]
    public async Task Idempotent_producers_get_distinct_ids_at_epoch_zero()
    {
        using var broker = new TransactionTestBroker();
        var first = await broker.InitAsync(null);
        var second = await broker.InitAsync(null);

        Assert.Equal((ErrorCode.None, (short)0), (first.Error, first.Epoch));
        Assert.Equal((ErrorCode.None, (short)0), (second.Error, second.Epoch));
        Assert.NotEqual(first.ProducerId, second.ProducerId);
    }

    [Fact]
    public async Task Reinitializing_a_transactional_id_keeps_the_producer_id_and_bumps_the_epoch()
    {
        using var broker = new TransactionTestBroker();
        var first = await broker.InitAsync("tx");
        var second = await broker.InitAsync("tx", version: 2);

        Assert.Equal((ErrorCode.None, (short)0), (first.Error, first.Epoch));
        Assert.Equal((ErrorCode.None, first.ProducerId, (short)1), second);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(900_001)]
    public async Task Timeout_outside_one_to_transaction_max_timeout_is_invalid(int timeoutMs)
    {
        using var broker = new TransactionTestBroker();
        Assert.Equal(ErrorCode.InvalidTransactionTimeout, (await broker.InitAsync("tx", timeoutMs: timeoutMs)).Error);
    }

    [Fact]
    public async Task Transaction_max_timeout_is_a_broker_config()
    {
        var (config, errors) = BrokerConfig.Parse([KeyValuePair.Create("transaction.max.timeout.ms", "1000")]);
        Assert.Empty(errors);
        using var broker = new TransactionTestBroker(config: config);
        Assert.Equal(ErrorCode.InvalidTransactionTimeout, (await broker.InitAsync("tx", timeoutMs: 1001)).Error);
        Assert.Equal(ErrorCode.None, (await broker.InitAsync("tx", timeoutMs: 1000)).Error);
    }

    [Fact]
    public async Task Empty_transactional_id_is_an_invalid_request()
    {
        using var broker = new TransactionTestBroker();
        Assert.Equal(ErrorCode.InvalidRequest, (await broker.InitAsync("")).Error);
    }

    [Fact]
    public async Task Given_producer_id_and_epoch_must_match_kip_360()
    {
        using var broker = new TransactionTestBroker();
        var (_, producerId, epoch) = await broker.InitAsync("tx");
        var bumped = await broker.InitAsync("tx", producerId, epoch);
        Assert.Equal((ErrorCode.None, producerId, (short)(epoch + 1)), bumped);

        // A retry with the epoch that was just bumped gets the same answer again.
        Assert.Equal(bumped, await broker.InitAsync("tx", producerId, epoch));
        Assert.Equal(ErrorCode.InvalidProducerIdMapping, (await broker.InitAsync("tx", producerId + 100, bumped.Epoch)).Error);

        // Another producer of the id takes over: an epoch older than the last two is fenced.
        var third = await broker.InitAsync("tx");
        Assert.Equal((short)(bumped.Epoch + 1), third.Epoch);
        Assert.Equal(ErrorCode.ProducerFenced, (await broker.InitAsync("tx", producerId, epoch)).Error);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, (await broker.InitAsync("tx", producerId, epoch, version: 3)).Error);
    }

    [Fact]
    public async Task Producer_ids_stay_unique_across_restarts()
    {
        var directory = Path.Combine(Path.GetTempPath(), "tributary-txn-tests", Guid.NewGuid().ToString("N"));
        try
        {
            long before;
            long transactional;
            using (var broker = new TransactionTestBroker(directory: directory))
            {
                before = (await broker.InitAsync(null)).ProducerId;
                transactional = (await broker.InitAsync("tx")).ProducerId;
            }

            using var restarted = new TransactionTestBroker(directory: directory);
            var after = await restarted.InitAsync(null);
            Assert.True(after.ProducerId > Math.Max(before, transactional), $"{after.ProducerId} was handed out before the restart");
            Assert.Equal((ErrorCode.None, transactional, (short)1), await restarted.InitAsync("tx"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
