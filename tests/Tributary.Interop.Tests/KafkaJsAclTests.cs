using Confluent.Kafka;
using Tributary.Broker.Security.Authorization;
using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// kafkajs consumer group over SASL SCRAM with the authorizer on: READ on the group and the topic is all a consumer
/// needs (FindCoordinator, JoinGroup, SyncGroup, OffsetFetch, Fetch, OffsetCommit); for a group it has no ACL for,
/// FindCoordinator answers GROUP_AUTHORIZATION_FAILED, which kafkajs logs and reports as coordinator not found.
/// </summary>
public sealed class KafkaJsAclTests
{
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_consumer_with_read_on_its_group_and_topic_consumes_and_commits()
    {
        var options = new TributaryBrokerOptions { Topics = { ["acl-orders"] = 2 } };
        options.SaslUsers["alice"] = "al1ce-secret";
        options.SaslUsers["admin"] = "adm1n-secret";
        options.Config["authorizer.class.name"] = Authorizer.StandardAuthorizerClass;
        options.Config["super.users"] = "User:admin";
        await using var broker = await TributaryBroker.StartAsync(options);
        Librdkafka.EnsureLoaded();
        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig
        {
            BootstrapServers = broker.BootstrapServers,
            SecurityProtocol = SecurityProtocol.SaslPlaintext,
            SaslMechanism = SaslMechanism.ScramSha256,
            SaslUsername = "admin",
            SaslPassword = "adm1n-secret",
            Acks = Acks.All,
        }).Build())
        {
            for (var i = 0; i < 6; i++)
            {
                await producer.ProduceAsync(new TopicPartition("acl-orders", i % 2), new Message<Null, string> { Value = $"m{i}" });
            }
        }

        broker.Core.Authorizer.Create(
        [
            new AclBinding(AclResourceType.Group, "readers", AclPatternType.Literal, "User:alice", "*", AclOperation.Read, AclPermissionType.Allow),
            new AclBinding(AclResourceType.Topic, "acl-orders", AclPatternType.Literal, "User:alice", "*", AclOperation.Read, AclPermissionType.Allow),
        ]);

        var run = await NodeRunner.RunAsync("acl-group.mjs", NodeTimeout, broker.BootstrapServers, "alice", "al1ce-secret", "acl-orders", "readers", "6");
        using var json = NodeRunner.LastJsonLine(run);
        Assert.True(run.ExitCode == 0 && !json.RootElement.TryGetProperty("error", out _), "kafkajs failed: " + run.Describe());
        Assert.Equal(6, json.RootElement.GetProperty("values").GetArrayLength());
        Assert.Equal(2, broker.Core.Groups.FetchOffsets("readers").Count);

        var refused = await NodeRunner.RunAsync("acl-group.mjs", NodeTimeout, broker.BootstrapServers, "alice", "al1ce-secret", "acl-orders", "strangers", "6");
        using var error = NodeRunner.LastJsonLine(refused);
        Assert.Equal(1, refused.ExitCode);
        Assert.Equal("KafkaJSGroupCoordinatorNotFound", error.RootElement.GetProperty("type").GetString());
        Assert.Contains(error.RootElement.GetProperty("logged").EnumerateArray(), e => e.GetString() is "GROUP_AUTHORIZATION_FAILED" or "Not authorized to access group");
        Assert.Empty(broker.Core.Groups.FetchOffsets("strangers"));
    }
}
