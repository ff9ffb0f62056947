using Tributary.Broker.Metadata;
using Tributary.Broker.Quotas;

namespace Tributary.Broker.Tests.Quotas;

/// <summary>Which quota applies to a client (Kafka's eight entities in order), and whose usage it counts.</summary>
public sealed class ClientQuotaManagerTests
{
    private static readonly QuotaEntityName Alice = new("alice");
    private static readonly QuotaEntityName App = new("app");
    private static readonly QuotaEntityName Default = QuotaEntityName.Default;

    [Fact]
    public void The_most_specific_of_the_eight_entities_applies_in_kafkas_order()
    {
        var time = new ManualTimeProvider();
        var metadata = new MetadataStore(null);
        var quotas = new ClientQuotaManager(metadata, time, 11, 1000, 11, 1000);
        ClientQuotaEntity[] precedence =
        [
            new(Alice, App), new(Alice, Default), new(Alice, null), new(Default, App),
            new(Default, Default), new(Default, null), new(null, App), new(null, Default),
        ];
        metadata.AlterClientQuotas([.. precedence.Select((e, i) => (e, ClientQuotaKeys.ProducerByteRate, (double?)(1000 + i)))]);

        // Removing each entity in turn reveals the next one: the order is Kafka's, one entity at a time.
        for (var i = 0; i < precedence.Length; i++)
        {
            var (quota, key) = quotas.Find(ClientQuotaType.Produce, "alice", "app")!.Value;
            Assert.Equal(1000 + i, quota);
            Assert.Equal(new QuotaSensorKey(ClientQuotaType.Produce, precedence[i].User is null ? null : "alice", precedence[i].ClientId is null ? null : "app"), key);
            metadata.AlterClientQuotas([(precedence[i], ClientQuotaKeys.ProducerByteRate, null)]);
        }

        Assert.Null(quotas.Find(ClientQuotaType.Produce, "alice", "app"));
        Assert.False(quotas.Enabled);
    }

    [Fact]
    public void Each_quota_type_is_resolved_on_its_own_and_defaults_count_each_client_apart()
    {
        var metadata = new MetadataStore(null);
        var quotas = new ClientQuotaManager(metadata, new ManualTimeProvider(), 11, 1000, 11, 1000);
        metadata.AlterClientQuotas(
        [
            (new ClientQuotaEntity(Alice, null), ClientQuotaKeys.ConsumerByteRate, 500),
            (new ClientQuotaEntity(Default, null), ClientQuotaKeys.ProducerByteRate, 100),
        ]);

        Assert.Equal((500, new QuotaSensorKey(ClientQuotaType.Fetch, "alice", null)), quotas.Find(ClientQuotaType.Fetch, "alice", "x"));
        Assert.Null(quotas.Find(ClientQuotaType.Fetch, "bob", "x"));
        Assert.Equal((100, new QuotaSensorKey(ClientQuotaType.Produce, "alice", null)), quotas.Find(ClientQuotaType.Produce, "alice", "x"));
        Assert.Equal((100, new QuotaSensorKey(ClientQuotaType.Produce, "bob", null)), quotas.Find(ClientQuotaType.Produce, "bob", "x"));
    }

    [Fact]
    public void Going_over_a_byte_rate_earns_the_time_to_fall_back_and_each_user_has_its_own_rate()
    {
        var time = new ManualTimeProvider();
        var metadata = new MetadataStore(null);
        var quotas = new ClientQuotaManager(metadata, time, 11, 1000, 11, 1000);
        metadata.AlterClientQuotas([(new ClientQuotaEntity(Default, null), ClientQuotaKeys.ProducerByteRate, 1000)]);

        // 9,000 bytes over the 10 s first window: 900/s, within 1000/s.
        Assert.Equal(0, quotas.RecordAndGetThrottleTimeMs(ClientQuotaType.Produce, "alice", "p", 9000));

        // 10,500 bytes: 1050/s, (1050 - 1000) / 1000 × 10 s = 500 ms.
        Assert.Equal(500, quotas.RecordAndGetThrottleTimeMs(ClientQuotaType.Produce, "alice", "p", 1500));

        // Far over: (3000 - 1000) / 1000 × 10 s = 20 s, the whole time (Kafka bounds only request_percentage).
        Assert.Equal(20_000, quotas.RecordAndGetThrottleTimeMs(ClientQuotaType.Produce, "alice", "p", 19_500));

        // bob's usage is his own under the <default> user quota.
        Assert.Equal(0, quotas.RecordAndGetThrottleTimeMs(ClientQuotaType.Produce, "bob", "p", 9000));

        // Once alice's samples have all expired she starts afresh.
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(0, quotas.RecordAndGetThrottleTimeMs(ClientQuotaType.Produce, "alice", "p", 9000));
    }

    [Fact]
    public void Request_percentage_counts_handler_time_and_its_throttle_is_bounded_by_one_window()
    {
        var metadata = new MetadataStore(null);
        var quotas = new ClientQuotaManager(metadata, new ManualTimeProvider(), 11, 1000, 11, 1000);
        metadata.AlterClientQuotas([(new ClientQuotaEntity(null, QuotaEntityName.Default), ClientQuotaKeys.RequestPercentage, 10)]);

        // 10% of one thread over the 10 s first window is 1 s of handler time (100 percent-seconds).
        Assert.Equal(0, quotas.RecordAndGetThrottleTimeMs(ClientQuotaType.Request, "alice", "c", 100));
        Assert.Equal(500, quotas.RecordAndGetThrottleTimeMs(ClientQuotaType.Request, "alice", "c", 5));
        Assert.Equal(1000, quotas.RecordAndGetThrottleTimeMs(ClientQuotaType.Request, "alice", "c", 100));
    }

    [Fact]
    public void The_quota_user_is_the_principals_name()
    {
        Assert.Equal("alice", ClientQuotaManager.UserOf("User:alice"));
        Assert.Equal("ANONYMOUS", ClientQuotaManager.UserOf("User:ANONYMOUS"));
    }
}
