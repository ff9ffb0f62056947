using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// Metadata changes while etcd has lost its quorum (two of three members frozen): Metadata still answers from the
/// brokers' caches, CreateTopics, CreatePartitions, DeleteTopics and AlterConfigs answer the retriable
/// REQUEST_TIMED_OUT within the request's timeout (the client's own, longer timeout never fires), the broker logs the
/// episode once, and once the quorum is back the retried CreateTopics goes through.
/// </summary>
public sealed class EtcdQuorumLossTests(EtcdFixture fixture) : IClassFixture<EtcdFixture>, IAsyncLifetime
{
    private const int ChangeTimedOutEventId = 988;
    private static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(30);

    private readonly EtcdBrokers _brokers = new(fixture.Etcd, "quorum");
    private readonly Dictionary<int, CapturedLog> _logs = new() { [1] = new(), [2] = new(), [3] = new() };

    [Fact]
    public async Task Metadata_changes_answer_request_timed_out_without_quorum_and_succeed_once_it_is_back()
    {
        await _brokers.StartAllAsync(3, (id, options) => options.LoggerFactory = _logs[id].CreateFactory());
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _brokers.Bootstrap }).Build();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = "steady", NumPartitions = 1, ReplicationFactor = 3 }]);
        await ReplicationTests.WaitUntilAsync(() => _brokers.Running.Values.All(b => b.Core.Replicas!.StateOf("steady", 0) is { Isr.Length: 3 }));

        fixture.Etcd.PauseMember(1);
        fixture.Etcd.PauseMember(2);
        try
        {
            Assert.Contains(admin.GetMetadata(TimeSpan.FromSeconds(10)).Topics, t => t.Topic == "steady");

            var created = await Assert.ThrowsAsync<CreateTopicsException>(() => admin.CreateTopicsAsync(
                [new TopicSpecification { Name = "during", NumPartitions = 1, ReplicationFactor = 3 }],
                new CreateTopicsOptions { OperationTimeout = OperationTimeout, RequestTimeout = ClientTimeout }));
            Assert.Equal(ErrorCode.RequestTimedOut, created.Results.Single().Error.Code);

            var grown = await Assert.ThrowsAsync<CreatePartitionsException>(() => admin.CreatePartitionsAsync(
                [new PartitionsSpecification { Topic = "steady", IncreaseTo = 2 }],
                new CreatePartitionsOptions { OperationTimeout = OperationTimeout, RequestTimeout = ClientTimeout }));
            Assert.Equal(ErrorCode.RequestTimedOut, grown.Results.Single().Error.Code);

            var deleted = await Assert.ThrowsAsync<DeleteTopicsException>(() => admin.DeleteTopicsAsync(
                ["steady"], new DeleteTopicsOptions { OperationTimeout = OperationTimeout, RequestTimeout = ClientTimeout }));
            Assert.True(deleted.Results.Single().Error.Code == ErrorCode.RequestTimedOut, deleted.Results.Single().Error.Reason);

            var altered = await Assert.ThrowsAsync<IncrementalAlterConfigsException>(() => admin.IncrementalAlterConfigsAsync(
                new Dictionary<ConfigResource, List<ConfigEntry>>
                {
                    [new ConfigResource { Type = ResourceType.Topic, Name = "steady" }] = [new ConfigEntry { Name = "retention.ms", Value = "60000", IncrementalOperation = AlterConfigOpType.Set }],
                },
                new IncrementalAlterConfigsOptions { RequestTimeout = ClientTimeout }));
            Assert.True(altered.Results.Single().Error.Code == ErrorCode.RequestTimedOut, altered.Results.Single().Error.Reason);

            // One warning per broker for the whole episode, not one per request.
            Assert.InRange(_logs.Values.Sum(l => l.Count(ChangeTimedOutEventId)), 1, 3);
            Assert.All(_logs.Values, l => Assert.InRange(l.Count(ChangeTimedOutEventId), 0, 1));
        }
        finally
        {
            fixture.Etcd.ResumeMember(1);
            fixture.Etcd.ResumeMember(2);
        }

        await fixture.Etcd.WaitHealthyAsync();

        // Leases that ended in the outage make the brokers register again, as new incarnations the controller admits;
        // until then none counts as live for a new topic's replicas (INVALID_REPLICATION_FACTOR, as in Kafka).
        await ReplicationTests.WaitUntilAsync(() => _brokers.Running.Values.All(b => b.Core.Cluster!.LiveBrokers.Count == 3));

        // A timed-out change may have been committed once the quorum came back (as in Kafka); either way the retried
        // creation ends with the topic there, replicated.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                await admin.CreateTopicsAsync([new TopicSpecification { Name = "during", NumPartitions = 1, ReplicationFactor = 3 }],
                    new CreateTopicsOptions { OperationTimeout = OperationTimeout, RequestTimeout = ClientTimeout });
                break;
            }
            catch (CreateTopicsException e) when (e.Results.Single().Error.Code == ErrorCode.TopicAlreadyExists)
            {
                break;
            }
            catch (CreateTopicsException e) when (e.Results.Single().Error.Code == ErrorCode.RequestTimedOut && DateTime.UtcNow < deadline)
            {
                await Task.Delay(500);
            }
        }

        await ReplicationTests.WaitUntilAsync(() => _brokers.Running.Values.All(b => b.Core.Replicas!.StateOf("during", 0) is { Isr.Length: 3 }));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _brokers.DisposeAsync();
        foreach (var log in _logs.Values)
        {
            log.Dispose();
        }
    }
}
