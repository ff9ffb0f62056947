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
            Entry([("ip", "10.0.0.1")], ("connection_creation_rate", 1, false)),
            Entry([("user", "good")], (ClientQuotaKeys.RequestPercentage, 0.5, false)));

        Assert.Equal([.. Enumerable.Repeat(ErrorCode.InvalidRequest, 9), ErrorCode.None], altered.Entries.Select(e => (ErrorCode)e.ErrorCode));
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
