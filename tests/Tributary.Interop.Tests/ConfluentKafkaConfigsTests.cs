using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// Confluent.Kafka 2.16.0's admin client against the embedded broker on disk: DescribeConfigs with the synonyms
/// librdkafka asks for, IncrementalAlterConfigs on the BROKER resource, and the dynamic value still in force, with its
/// source, after the broker restarts on the same data directory.
/// </summary>
public sealed class ConfluentKafkaConfigsTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _data = Path.Combine(Path.GetTempPath(), "tributary-confluent-configs", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_data))
        {
            Directory.Delete(_data, recursive: true);
        }
    }

    private TributaryBrokerOptions Options() => new() { InMemory = false, DataDirectory = _data, KeepDataDirectory = true, Config = { ["log.segment.bytes"] = "2048000" }, Topics = { ["configs"] = 1 } };

    private static async Task<Dictionary<string, ConfigEntryResult>> DescribeAsync(IAdminClient admin, ResourceType type, string name)
    {
        var results = await admin.DescribeConfigsAsync([new ConfigResource { Type = type, Name = name }], new DescribeConfigsOptions { RequestTimeout = TimeSpan.FromSeconds(10) });
        return Assert.Single(results).Entries;
    }

    [Fact]
    public async Task DescribesSynonymsAndKeepsADynamicBrokerConfigAcrossARestart()
    {
        output.WriteLine($"librdkafka {Librdkafka.EnsureLoaded()}");
        await using (var broker = await TributaryBroker.StartAsync(Options()))
        {
            using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = broker.BootstrapServers }).Build();

            var before = await DescribeAsync(admin, ResourceType.Topic, "configs");
            Assert.Equal(("2048000", ConfigSource.StaticBrokerConfig), (before["segment.bytes"].Value, before["segment.bytes"].Source));
            Assert.Equal(
                [("log.segment.bytes", "2048000", ConfigSource.StaticBrokerConfig), ("log.segment.bytes", "1073741824", ConfigSource.DefaultConfig)],
                before["segment.bytes"].Synonyms.Select(s => (s.Name, s.Value, s.Source)));
            Assert.Contains("segment.index.bytes", before.Keys);

            await admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
            {
                [new ConfigResource { Type = ResourceType.Broker, Name = "0" }] = [new ConfigEntry { Name = "log.retention.ms", Value = "120000", IncrementalOperation = AlterConfigOpType.Set }],
            });

            var staticKey = await Assert.ThrowsAsync<IncrementalAlterConfigsException>(() => admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
            {
                [new ConfigResource { Type = ResourceType.Broker, Name = "0" }] = [new ConfigEntry { Name = "num.partitions", Value = "3", IncrementalOperation = AlterConfigOpType.Set }],
            }));
            Assert.Equal(ErrorCode.InvalidRequest, Assert.Single(staticKey.Results).Error.Code);

            var after = await DescribeAsync(admin, ResourceType.Topic, "configs");
            Assert.Equal(("120000", ConfigSource.DynamicBrokerConfig), (after["retention.ms"].Value, after["retention.ms"].Source));
        }

        await using (var restarted = await TributaryBroker.StartAsync(Options()))
        {
            using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = restarted.BootstrapServers }).Build();

            var topic = await DescribeAsync(admin, ResourceType.Topic, "configs");
            Assert.Equal(("120000", ConfigSource.DynamicBrokerConfig), (topic["retention.ms"].Value, topic["retention.ms"].Source));
            Assert.Equal(
                [("log.retention.ms", "120000", ConfigSource.DynamicBrokerConfig), ("log.retention.hours", "168", ConfigSource.DefaultConfig)],
                topic["retention.ms"].Synonyms.Select(s => (s.Name, s.Value, s.Source)));
            var brokerConfigs = await DescribeAsync(admin, ResourceType.Broker, "0");
            Assert.Equal(("120000", ConfigSource.DynamicBrokerConfig, false), (brokerConfigs["log.retention.ms"].Value, brokerConfigs["log.retention.ms"].Source, brokerConfigs["log.retention.ms"].IsReadOnly));
        }
    }
}
