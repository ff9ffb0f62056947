using Tributary.Broker.Handlers;
using Tributary.Broker.Quotas;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using AlterEntity = Tributary.Protocol.Messages.AlterClientQuotasRequest.EntityData;
using AlterEntry = Tributary.Protocol.Messages.AlterClientQuotasRequest.EntryData;
using Component = Tributary.Protocol.Messages.DescribeClientQuotasRequest.ComponentData;
using Op = Tributary.Protocol.Messages.AlterClientQuotasRequest.OpData;

namespace Tributary.Broker.Tests.Quotas;

/// <summary>AlterClientQuotas and DescribeClientQuotas with Kafka's filters and errors; quotas survive a restart.</summary>
public sealed class ClientQuotasHandlerTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tributary-quotas-").FullName;

    [Fact]
    public async Task Altered_quotas_are_described_and_survive_a_restart()
    {
        using (var broker = TestBroker.OnDisk(_directory))
        {
            var altered = await AlterAsync(broker, false,
                Entry([("user", "alice")], (ClientQuotaKeys.ProducerByteRate, 1_048_576, false), (ClientQuotaKeys.RequestPercentage, 12.5, false)),
                Entry([("user", null), ("client-id", "app")], (ClientQuotaKeys.ConsumerByteRate, 2048, false)),
                Entry([("client-id", null)], (ClientQuotaKeys.ControllerMutationRate, 3, false)));
            Assert.All(altered.Entries, e => Assert.Equal((short)0, e.ErrorCode));
            Assert.Equal([("user", (string?)null), ("client-id", "app")], altered.Entries[1].Entity.Select(e => (e.EntityType, e.EntityName)));
        }

        using var restarted = TestBroker.OnDisk(_directory);
        var all = await DescribeAsync(restarted, false);
        Assert.Equal(
            [
                "client-id=<default>: controller_mutation_rate=3",
                "user=<default>,client-id=app: consumer_byte_rate=2048",
                "user=alice: producer_byte_rate=1048576,request_percentage=12.5",
            ],
            Lines(all).Order(StringComparer.Ordinal));

        // Remove one key, then the entity's last: it is gone.
        await AlterAsync(restarted, false, Entry([("user", "alice")], (ClientQuotaKeys.RequestPercentage, 0, true)));
        Assert.Contains("user=alice: producer_byte_rate=1048576", Lines(await DescribeAsync(restarted, false)));
        await AlterAsync(restarted, false, Entry([("user", "alice")], (ClientQuotaKeys.ProducerByteRate, 0, true)));
        Assert.DoesNotContain(Lines(await DescribeAsync(restarted, false)), l => l.StartsWith("user=alice", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Filters_match_exact_names_defaults_and_any_name_strictly_or_not()
    {
        using var broker = new TestBroker();
        await AlterAsync(broker, false,
            Entry([("user", "alice")], (ClientQuotaKeys.ProducerByteRate, 1, false)),
            Entry([("user", "alice"), ("client-id", "app")], (ClientQuotaKeys.ProducerByteRate, 2, false)),
            Entry([("user", null)], (ClientQuotaKeys.ProducerByteRate, 3, false)),
            Entry([("client-id", "app")], (ClientQuotaKeys.ProducerByteRate, 4, false)));

        Assert.Equal(["user=alice,client-id=app: producer_byte_rate=2", "user=alice: producer_byte_rate=1"],
            Lines(await DescribeAsync(broker, false, new Component { EntityType = "user", MatchType = 0, Match = "alice" })).Order(StringComparer.Ordinal));
        Assert.Equal(["user=alice: producer_byte_rate=1"],
            Lines(await DescribeAsync(broker, true, new Component { EntityType = "user", MatchType = 0, Match = "alice" })));
        Assert.Equal(["user=<default>: producer_byte_rate=3"],
            Lines(await DescribeAsync(broker, false, new Component { EntityType = "user", MatchType = 1, Match = null })));
        Assert.Equal(["user=<default>: producer_byte_rate=3", "user=alice: producer_byte_rate=1"],
            Lines(await DescribeAsync(broker, true, new Component { EntityType = "user", MatchType = 2, Match = null })).Order(StringComparer.Ordinal));
        Assert.Equal(["client-id=app: producer_byte_rate=4", "user=alice,client-id=app: producer_byte_rate=2"],
            Lines(await DescribeAsync(broker, false, new Component { EntityType = "client-id", MatchType = 2, Match = null })).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Bad_entities_keys_and_values_get_invalid_request_and_change_nothing()
    {
        using var broker = new TestBroker();
        var altered = await AlterAsync(broker, false,
            Entry([], (ClientQuotaKeys.ProducerByteRate, 1, false)),
            Entry([("user", "a"), ("user", "b")], (ClientQuotaKeys.ProducerByteRate, 1, false)),
            Entry([("group", "g")], (ClientQuotaKeys.ProducerByteRate, 1, false)),
            Entry([("user", "")], (ClientQuotaKeys.ProducerByteRate, 1, false)),
            Entry([("user", "a")], ("producer_rate", 1, false)),
            Entry([("user", "a")], (ClientQuotaKeys.ProducerByteRate, 1.5, false)),
            Entry([("user", "a")], (ClientQuotaKeys.ConsumerByteRate, -1, false)),
            Entry([("user", "a")], (ClientQuotaKeys.RequestPercentage, 1, false), (ClientQuotaKeys.RequestPercentage, 2, false)),
            Entry([("user", "good")], (ClientQuotaKeys.RequestPercentage, 0.5, false)));

        Assert.Equal([.. Enumerable.Repeat(ErrorCode.InvalidRequest, 8), ErrorCode.None], altered.Entries.Select(e => (ErrorCode)e.ErrorCode));
        Assert.Equal("Invalid configuration key producer_rate", altered.Entries[4].ErrorMessage);
        Assert.Equal(["user=good: request_percentage=0.5"], Lines(await DescribeAsync(broker, false)));

        var described = await DescribeAsync(broker, false, new Component { EntityType = "user", MatchType = 0, Match = null });
        Assert.Equal(ErrorCode.InvalidRequest, (ErrorCode)described.ErrorCode);
        Assert.Null(described.Entries);
        described = await DescribeAsync(broker, false, new Component { EntityType = "user", MatchType = 2, Match = null }, new Component { EntityType = "user", MatchType = 2, Match = null });
        Assert.Equal(ErrorCode.InvalidRequest, (ErrorCode)described.ErrorCode);
        described = await DescribeAsync(broker, false, new Component { EntityType = "ip", MatchType = 2, Match = null }, new Component { EntityType = "user", MatchType = 2, Match = null });
        Assert.Equal(ErrorCode.InvalidRequest, (ErrorCode)described.ErrorCode);
    }

    [Fact]
    public async Task Ip_entities_take_connection_creation_rate_alone_and_survive_a_restart()
    {
        using (var broker = TestBroker.OnDisk(_directory))
        {
            var altered = await AlterAsync(broker, false,
                Entry([("ip", "127.0.0.1")], (ClientQuotaKeys.ConnectionCreationRate, 5, false)),
                Entry([("ip", null)], (ClientQuotaKeys.ConnectionCreationRate, 100, false)),
                Entry([("ip", "2001:db8::1")], (ClientQuotaKeys.ConnectionCreationRate, 7, false)),
                Entry([("user", "alice")], (ClientQuotaKeys.ProducerByteRate, 1000, false)));
            Assert.All(altered.Entries, e => Assert.Equal((short)0, e.ErrorCode));
        }

        using var restarted = TestBroker.OnDisk(_directory);
        Assert.Equal(["ip=127.0.0.1: connection_creation_rate=5", "ip=2001:db8::1: connection_creation_rate=7", "ip=<default>: connection_creation_rate=100"],
            Lines(await DescribeAsync(restarted, false, new Component { EntityType = "ip", MatchType = 2, Match = null })).Order(StringComparer.Ordinal));
        Assert.Equal(["ip=<default>: connection_creation_rate=100"],
            Lines(await DescribeAsync(restarted, true, new Component { EntityType = "ip", MatchType = 1, Match = null })));
        Assert.Equal(["ip=127.0.0.1: connection_creation_rate=5"],
            Lines(await DescribeAsync(restarted, false, new Component { EntityType = "ip", MatchType = 0, Match = "127.0.0.1" })));

        // A user filter does not match ip entities, and the unfiltered list has them all.
        Assert.Equal(["user=alice: producer_byte_rate=1000"], Lines(await DescribeAsync(restarted, false, new Component { EntityType = "user", MatchType = 2, Match = null })));
        Assert.Equal(4, Lines(await DescribeAsync(restarted, false)).Count);

        // The precedence the accept path uses: the address's own quota, else the default ip entity's.
        Assert.Equal(5, restarted.Core.Quotas.ConnectionCreationRateFor(System.Net.IPAddress.Loopback));
        Assert.Equal(5, restarted.Core.Quotas.ConnectionCreationRateFor(System.Net.IPAddress.Parse("::ffff:127.0.0.1")));
        Assert.Equal(7, restarted.Core.Quotas.ConnectionCreationRateFor(System.Net.IPAddress.Parse("2001:db8:0::1")));
        Assert.Equal(100, restarted.Core.Quotas.ConnectionCreationRateFor(System.Net.IPAddress.Parse("10.1.2.3")));

        // Removing the default leaves other addresses unlimited; removing the last key removes the entity.
        await AlterAsync(restarted, false, Entry([("ip", null)], (ClientQuotaKeys.ConnectionCreationRate, 0, true)));
        Assert.Null(restarted.Core.Quotas.ConnectionCreationRateFor(System.Net.IPAddress.Parse("10.1.2.3")));
        Assert.Equal(5, restarted.Core.Quotas.ConnectionCreationRateFor(System.Net.IPAddress.Loopback));
        Assert.DoesNotContain(Lines(await DescribeAsync(restarted, false)), l => l.StartsWith("ip=<default>", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bad_ip_entities_get_invalid_request_with_kafkas_messages()
    {
        using var broker = new TestBroker();
        var altered = await AlterAsync(broker, false,
            Entry([("ip", "10.0.0.1"), ("user", "alice")], (ClientQuotaKeys.ConnectionCreationRate, 1, false)),
            Entry([("client-id", null), ("ip", null)], (ClientQuotaKeys.ConnectionCreationRate, 1, false)),
            Entry([("ip", "not-an-ip")], (ClientQuotaKeys.ConnectionCreationRate, 1, false)),
            Entry([("ip", "10.1")], (ClientQuotaKeys.ConnectionCreationRate, 1, false)),
            Entry([("ip", "10.0.0.1")], (ClientQuotaKeys.ProducerByteRate, 1, false)),
            Entry([("ip", "10.0.0.1")], (ClientQuotaKeys.ConnectionCreationRate, 2.5, false)),
            Entry([("ip", "10.0.0.1")], (ClientQuotaKeys.ConnectionCreationRate, 0, false)),
            Entry([("ip", "10.0.0.1"), ("ip", "10.0.0.2")], (ClientQuotaKeys.ConnectionCreationRate, 1, false)),
            Entry([("user", "alice")], (ClientQuotaKeys.ConnectionCreationRate, 1, false)),
            Entry([("ip", "10.0.0.1")], (ClientQuotaKeys.ProducerByteRate, 0, true)));

        Assert.All(altered.Entries, e => Assert.Equal(ErrorCode.InvalidRequest, (ErrorCode)e.ErrorCode));
        Assert.Equal("Invalid quota entity combination, IP entity should not be combined with User or ClientId", altered.Entries[0].ErrorMessage);
        Assert.Equal(altered.Entries[0].ErrorMessage, altered.Entries[1].ErrorMessage);
        Assert.Equal("not-an-ip is not a valid IP address", altered.Entries[2].ErrorMessage);
        Assert.Equal("Invalid configuration key producer_byte_rate", altered.Entries[4].ErrorMessage);
        Assert.Equal("Invalid configuration key connection_creation_rate", altered.Entries[8].ErrorMessage);
        Assert.Empty(broker.Core.Metadata.ClientQuotas);

        var described = await DescribeAsync(broker, false, new Component { EntityType = "client-id", MatchType = 1, Match = null }, new Component { EntityType = "ip", MatchType = 0, Match = "10.0.0.1" });
        Assert.Equal(ErrorCode.InvalidRequest, (ErrorCode)described.ErrorCode);
    }

    [Fact]
    public async Task Validate_only_checks_and_stores_nothing()
    {
        using var broker = new TestBroker();
        var altered = await AlterAsync(broker, true, Entry([("user", "alice")], (ClientQuotaKeys.ProducerByteRate, 1000, false)), Entry([("user", "bob")], ("nope", 1, false)));
        Assert.Equal([ErrorCode.None, ErrorCode.InvalidRequest], altered.Entries.Select(e => (ErrorCode)e.ErrorCode));
        Assert.Empty(broker.Core.Metadata.ClientQuotas);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static AlterEntry Entry((string Type, string? Name)[] entity, params (string Key, double Value, bool Remove)[] ops) => new()
    {
        Entity = [.. entity.Select(e => new AlterEntity { EntityType = e.Type, EntityName = e.Name })],
        Ops = [.. ops.Select(o => new Op { Key = o.Key, Value = o.Value, Remove = o.Remove })],
    };

    private static Task<AlterClientQuotasResponse> AlterAsync(TestBroker broker, bool validateOnly, params AlterEntry[] entries) =>
        broker.SendAsync(new AlterClientQuotasHandler(broker.Core), new AlterClientQuotasRequest { Entries = [.. entries], ValidateOnly = validateOnly }, 1);

    private static Task<DescribeClientQuotasResponse> DescribeAsync(TestBroker broker, bool strict, params Component[] components) =>
        broker.SendAsync(new DescribeClientQuotasHandler(broker.Core), new DescribeClientQuotasRequest { Components = [.. components], Strict = strict }, 1);

    private static List<string> Lines(DescribeClientQuotasResponse response) =>
        [.. response.Entries!.Select(e => string.Join(',', e.Entity.Select(p => $"{p.EntityType}={p.EntityName ?? "<default>"}")) + ": "
            + string.Join(',', e.Values.Select(v => FormattableString.Invariant($"{v.Key}={v.Value}"))))];
}
