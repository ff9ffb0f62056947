using Tributary.Broker.Config;
using Tributary.Broker.Handlers;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using static Tributary.Protocol.Messages.DescribeConfigsRequest;

namespace Tributary.Broker.Tests;

/// <summary>
/// ConfigTable is the only place a key is declared: what DescribeConfigs reports, the typed settings and the README's
/// configuration reference all come from it.
/// </summary>
public sealed class ConfigTableTests
{
    // Resource types are Kafka's ConfigResource.Type numbers: TOPIC 2, BROKER 4, GROUP 32.
    [Theory]
    [InlineData(2, "orders", ConfigScope.Topic)]
    [InlineData(4, "0", ConfigScope.Broker)]
    [InlineData(32, "payments", ConfigScope.Group)]
    public async Task Every_key_DescribeConfigs_returns_is_a_row_of_the_table(sbyte type, string name, ConfigScope scope)
    {
        using var broker = new TestBroker("log.retention.hours=1");
        broker.CreateTopic("orders", 1, new Dictionary<string, string> { ["retention.bytes"] = "100" });
        var request = new DescribeConfigsRequest
        {
            Resources = [new DescribeConfigsResource { ResourceType = type, ResourceName = name, ConfigurationKeys = null }],
            IncludeSynonyms = true,
            IncludeDocumentation = true,
        };

        var result = Assert.Single((await broker.SendAsync(new DescribeConfigsHandler(broker.Core), request, 4)).Results);

        var rows = (scope switch { ConfigScope.Topic => ConfigTable.TopicKeys, ConfigScope.Broker => ConfigTable.BrokerKeys, _ => ConfigTable.GroupKeys })
            .Where(r => !ConfigTable.IsPerListenerTemplate(r));
        Assert.Equal(rows.Select(r => r.Name).Order(StringComparer.Ordinal), result.Configs.Select(c => c.Name));
        foreach (var config in result.Configs)
        {
            var row = ConfigTable.Find(scope, config.Name);
            Assert.NotNull(row);
            Assert.Equal((row.Documentation, !row.Dynamic, row.Sensitive), (config.Documentation, config.ReadOnly, config.IsSensitive));
            Assert.All(config.Synonyms, s => Assert.True(ConfigTable.Find(ConfigScope.Broker, s.Name) is not null || s.Name == config.Name, $"synonym {s.Name} of {config.Name}"));
        }
    }

    [Fact]
    public void Each_key_is_declared_once_and_its_relations_name_real_keys()
    {
        // Once per scope: a topic key may share its name with the broker key it inherits from (compression.type).
        Assert.Equal(ConfigTable.All.Count, ConfigTable.All.Select(r => (r.Scope, r.Name)).Distinct().Count());
        foreach (var row in ConfigTable.All)
        {
            Assert.False(string.IsNullOrWhiteSpace(row.Documentation), $"{row.Name} has no documentation");
            Assert.True(row.Default is null || row.Validate(row.Default) is null, $"{row.Name}'s default {row.Default} does not validate");
            Assert.True(row.SynonymOf is null || ConfigTable.Find(ConfigScope.Broker, row.SynonymOf) is not null, $"{row.Name} is a synonym of an unknown key");
            Assert.True(row.BrokerKey is null || ConfigTable.Find(ConfigScope.Broker, row.BrokerKey) is not null, $"{row.Name} inherits from an unknown key");
        }
    }

    [Fact]
    public void The_dynamic_broker_keys_are_the_ones_topic_keys_inherit_and_they_bind_only_topic_defaults()
    {
        var inherited = ConfigTable.TopicKeys.Select(t => t.BrokerKey).OfType<string>().ToHashSet();
        var dynamic = ConfigTable.BrokerKeys.Where(k => k.Dynamic).ToList();

        // Besides those, a TLS listener's keystore and truststore keys, which each handshake reads (Kafka's dynamic keystore update).
        static bool IsTlsStore(string name) => name.Replace("listener.name.<listener>.", "", StringComparison.Ordinal) is var key
            && (key.StartsWith("ssl.keystore.", StringComparison.Ordinal) || key.StartsWith("ssl.truststore.", StringComparison.Ordinal) || key == "ssl.key.password");
        Assert.Equal(
            ConfigTable.BrokerKeys.Where(k => inherited.Contains(k.Name) || (k.SynonymOf is { } of && inherited.Contains(of))).Select(k => k.Name),
            dynamic.Select(k => k.Name).Where(n => !IsTlsStore(n)));
        Assert.Equal(20, dynamic.Count(k => IsTlsStore(k.Name)));
        Assert.Contains("log.retention.hours", dynamic.Select(k => k.Name));
        Assert.DoesNotContain("num.partitions", dynamic.Select(k => k.Name));

        // BrokerConfig.WithDynamic resolves only the topic defaults again: a dynamic key must bind nothing else.
        Assert.All(dynamic, k => Assert.Null(k.BindBroker));
    }

    [Fact]
    public void Every_value_the_table_accepts_opens_a_log()
    {
        // The storage engine's own check never refuses what the table accepted: one bound, in the table.
        var smallest = new Dictionary<string, string>
        {
            [TopicConfigs.SegmentBytes] = TopicConfigs.Definitions[TopicConfigs.SegmentBytes].Min.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [TopicConfigs.SegmentMs] = "1",
            [TopicConfigs.RetentionMs] = "-1",
            [TopicConfigs.RetentionBytes] = "-1",
            [TopicConfigs.FlushMessages] = "1",
            [TopicConfigs.FlushMs] = "0",
        };
        Assert.Null(TopicConfigs.Validate(smallest));

        TopicSettings.Resolve(smallest, new BrokerConfig()).Log.Validate();
    }

    [Fact]
    public void Topic_settings_take_the_override_else_the_broker_value_in_the_topic_keys_units()
    {
        var (broker, errors) = BrokerConfig.Parse([KeyValuePair.Create("log.retention.minutes", "2"), KeyValuePair.Create("message.max.bytes", "5000")]);
        Assert.Empty(errors);
        var overrides = new Dictionary<string, string>
        {
            [TopicConfigs.MaxMessageBytes] = "100",
            [TopicConfigs.CleanupPolicy] = "delete,compact",
            [TopicConfigs.CompressionType] = "zstd",
            [TopicConfigs.MessageTimestampType] = "LogAppendTime",
        };

        var settings = TopicSettings.Resolve(overrides, broker!);
        var inherited = TopicSettings.Resolve(new Dictionary<string, string>(), broker!);

        Assert.Equal((100, true, CompressionType.Zstd, true, 120_000L), (settings.MaxMessageBytes, settings.Compact, settings.Compression, settings.LogAppendTime, settings.Log.RetentionMs));
        Assert.Equal((5000, false, (CompressionType?)null, false), (inherited.MaxMessageBytes, inherited.Compact, inherited.Compression, inherited.LogAppendTime));
    }

    [Fact]
    public void Compaction_keys_bind_to_the_log_config_and_inherit_the_log_cleaner_broker_keys()
    {
        var (broker, errors) = BrokerConfig.Parse(
        [
            KeyValuePair.Create("log.cleaner.delete.retention.ms", "1000"),
            KeyValuePair.Create("log.cleaner.min.cleanable.ratio", "0.25"),
            KeyValuePair.Create("log.cleaner.threads", "2"),
            KeyValuePair.Create("log.cleaner.io.max.bytes.per.second", "1048576.5"),
        ]);
        Assert.Empty(errors);
        var overrides = new Dictionary<string, string>
        {
            [TopicConfigs.CleanupPolicy] = "compact",
            [TopicConfigs.MinCompactionLagMs] = "5000",
            [TopicConfigs.MaxCompactionLagMs] = "60000",
        };

        var log = TopicSettings.Resolve(overrides, broker!).Log;
        var inherited = TopicSettings.Resolve(new Dictionary<string, string>(), broker!).Log;

        Assert.Equal((true, false, 1000L, 5000L, 60_000L, 0.25), (log.Compact, log.Delete, log.DeleteRetentionMs, log.MinCompactionLagMs, log.MaxCompactionLagMs, log.MinCleanableDirtyRatio));
        Assert.Equal((false, true, long.MaxValue), (inherited.Compact, inherited.Delete, inherited.MaxCompactionLagMs));
        Assert.Equal((true, 2, 1048576.5, 134_217_728L, 15_000L), (broker!.LogCleanerEnable, broker.LogCleanerThreads, broker.LogCleanerIoMaxBytesPerSecond, broker.LogCleanerDedupeBufferSize, broker.LogCleanerBackoffMs));
        Assert.Equal(double.MaxValue, new BrokerConfig().LogCleanerIoMaxBytesPerSecond);
        Assert.NotNull(TopicConfigs.Validate([KeyValuePair.Create(TopicConfigs.MinCleanableDirtyRatio, "1.5")]));
        Assert.NotNull(TopicConfigs.Validate([KeyValuePair.Create(TopicConfigs.MinCleanableDirtyRatio, "half")]));
    }

    [Fact]
    public void A_default_config_holds_every_keys_default()
    {
        var (parsed, errors) = BrokerConfig.Parse([]);

        Assert.Empty(errors);
        Assert.Equal(new BrokerConfig().ToString(), parsed!.ToString()); // every property (the two maps are empty in both)
        Assert.Equal((1, 9092, 604_800_000L, 10080L * 60_000), (parsed.NumPartitions, parsed.ListenerPort, parsed.LogRetentionMs, parsed.OffsetsRetentionMs));
    }

    [Fact]
    public void The_READMEs_configuration_reference_is_generated_from_the_table()
    {
        var path = Path.Combine(RepositoryRoot(), "README.md");
        var readme = File.ReadAllText(path);
        var expected = ConfigReference.ReplaceSection(readme);
        if (expected != readme && Environment.GetEnvironmentVariable("TRIBUTARY_UPDATE_README") == "1")
        {
            File.WriteAllText(path, expected);
            return;
        }

        Assert.True(expected == readme,
            "README.md's configuration reference is stale; regenerate it with\n" +
            "  TRIBUTARY_UPDATE_README=1 dotnet test tests/Tributary.Broker.Tests -c Release --filter FullyQualifiedName~The_READMEs_configuration_reference");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Tributary.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("no Tributary.slnx above " + AppContext.BaseDirectory);
    }
}
