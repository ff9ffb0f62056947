using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// Confluent.Kafka's AdminClient, logged in as a super user over SASL SCRAM, creates, describes and deletes ACLs; a
/// producer of another user is refused with TOPIC_AUTHORIZATION_FAILED until the ACL it needs exists.
/// </summary>
public sealed class ConfluentKafkaAclTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Acls_created_with_the_admin_client_deny_then_allow_a_producer()
    {
        output.WriteLine($"librdkafka {Librdkafka.EnsureLoaded()}");
        var options = new TributaryBrokerOptions { Topics = { ["payments"] = 1 } };
        options.SaslUsers["admin"] = "adm1n-secret";
        options.SaslUsers["bob"] = "b0b-secret";
        options.Config["authorizer.class.name"] = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";
        options.Config["super.users"] = "User:admin";
        await using var broker = await TributaryBroker.StartAsync(options);
        ClientConfig Login(string user, string password) => new()
        {
            BootstrapServers = broker.BootstrapServers,
            SecurityProtocol = SecurityProtocol.SaslPlaintext,
            SaslMechanism = SaslMechanism.ScramSha512,
            SaslUsername = user,
            SaslPassword = password,
        };

        async Task<Error> ProduceAsync()
        {
            using var producer = new ProducerBuilder<Null, string>(new ProducerConfig(Login("bob", "b0b-secret")) { MessageTimeoutMs = 10_000 }).Build();
            try
            {
                await producer.ProduceAsync("payments", new Message<Null, string> { Value = "paid" });
                return new Error(ErrorCode.NoError);
            }
            catch (ProduceException<Null, string> e)
            {
                return e.Error;
            }
        }

        Assert.Equal(ErrorCode.TopicAuthorizationFailed, (await ProduceAsync()).Code);

        using var admin = new AdminClientBuilder(new AdminClientConfig(Login("admin", "adm1n-secret"))).Build();
        var write = new AclBinding
        {
            Pattern = new ResourcePattern { Type = ResourceType.Topic, Name = "pay", ResourcePatternType = ResourcePatternType.Prefixed },
            Entry = new AccessControlEntry { Principal = "User:bob", Host = "*", Operation = AclOperation.Write, PermissionType = AclPermissionType.Allow },
        };
        await admin.CreateAclsAsync([write]);

        var described = await admin.DescribeAclsAsync(new AclBindingFilter
        {
            PatternFilter = new ResourcePatternFilter { Type = ResourceType.Topic, Name = "payments", ResourcePatternType = ResourcePatternType.Match },
            EntryFilter = new AccessControlEntryFilter { Operation = AclOperation.Any, PermissionType = AclPermissionType.Any },
        });
        var found = Assert.Single(described.AclBindings);
        Assert.Equal(("pay", ResourcePatternType.Prefixed, "User:bob", AclOperation.Write), (found.Pattern.Name, found.Pattern.ResourcePatternType, found.Entry.Principal, found.Entry.Operation));

        Assert.Equal(ErrorCode.NoError, (await ProduceAsync()).Code);
        Assert.Equal(1, broker.Core.FindLog(broker.Core.Metadata.Find("payments")!, 0)!.HighWatermark);

        var deleted = await admin.DeleteAclsAsync([new AclBindingFilter
        {
            PatternFilter = new ResourcePatternFilter { Type = ResourceType.Any, ResourcePatternType = ResourcePatternType.Any },
            EntryFilter = new AccessControlEntryFilter { Principal = "User:bob", Operation = AclOperation.Any, PermissionType = AclPermissionType.Any },
        }]);
        Assert.Equal("pay", Assert.Single(Assert.Single(deleted).AclBindings).Pattern.Name);
        Assert.Equal(ErrorCode.TopicAuthorizationFailed, (await ProduceAsync()).Code);
    }
}
