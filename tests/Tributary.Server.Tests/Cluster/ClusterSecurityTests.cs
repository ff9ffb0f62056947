using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Broker.Cluster;
using Tributary.Broker.Security;
using Authz = Tributary.Broker.Security.Authorization;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// ACLs and SCRAM credentials are cluster metadata in etcd (ClusterNode.Security.cs), on a real etcd with three
/// embedded brokers and Confluent.Kafka clients: an ACL created through one broker is enforced by another and deleted
/// through a third; a SCRAM user created through one broker logs in to another; DescribeAcls answers the same on every
/// broker; concurrent CreateAcls through two brokers all land; ACLs past the cluster's byte limit are refused; and
/// without etcd's quorum changes answer REQUEST_TIMED_OUT whole while logins and decisions go on from the cache.
/// Each broker also keeps its configured (static) users and super.users: the admin and the brokers' own logins.
/// </summary>
public sealed class ClusterSecurityTests(EtcdFixture fixture) : IClassFixture<EtcdFixture>
{
    private const string AdminPassword = "adm1n-secret";
    private const string BrokerPassword = "br0ker-secret";
    private const string BobPassword = "b0b-secret";

    [Fact]
    public async Task An_acl_created_through_one_broker_is_enforced_by_another_and_deleted_through_a_third()
    {
        await using var brokers = await StartAsync("acl-enforce");
        var topic = "orders";
        using (var admin = Admin(brokers[1]))
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 1, ReplicasAssignments = new() { [0] = [3] } }]);
        }

        // bob is created through broker 2 and logs in only to broker 3, which leads the partition.
        using (var admin = Admin(brokers[2]))
        {
            await admin.AlterUserScramCredentialsAsync([new UserScramCredentialUpsertion
            {
                User = "bob",
                ScramCredentialInfo = new ScramCredentialInfo { Mechanism = ScramMechanism.ScramSha512, Iterations = 4096 },
                Password = Encoding.UTF8.GetBytes(BobPassword),
            }]);
        }

        // Every broker applies the cluster's metadata from its etcd watch, a moment after the broker that wrote it.
        await ReplicationTests.WaitUntilAsync(() => brokers.Running.Values.All(b => b.Core.Cluster!.TryGetPartition(topic, 0, out var s) && s.Leader == 3
            && b.Core.FindScramCredential("bob", SaslMechanisms.ScramSha512) is not null));
        var bob = Login(brokers[3], "bob", BobPassword);

        // No ACL yet (allow.everyone.if.no.acl.found is false): bob is denied by broker 3.
        Assert.Equal(ErrorCode.TopicAuthorizationFailed, await ProduceAsync(bob, topic));

        var allow = Binding(ResourcePatternType.Literal, topic, AclPermissionType.Allow);
        var deny = Binding(ResourcePatternType.Prefixed, "ord", AclPermissionType.Deny);
        using (var admin = Admin(brokers[1]))
        {
            await admin.CreateAclsAsync([allow]);
        }

        await AllHoldAsync(brokers, 1);

        Assert.Equal(ErrorCode.NoError, await ProduceAsync(bob, topic));

        using (var admin = Admin(brokers[1]))
        {
            await admin.CreateAclsAsync([deny]);
        }

        await AllHoldAsync(brokers, 2);

        Assert.Equal(ErrorCode.TopicAuthorizationFailed, await ProduceAsync(bob, topic));

        // DescribeAcls through every broker lists the same two bindings.
        foreach (var broker in brokers.Running.Values)
        {
            using var admin = Admin(broker);
            var described = await admin.DescribeAclsAsync(Everything);
            Assert.Equal(
                [("ord", ResourcePatternType.Prefixed, AclPermissionType.Deny), (topic, ResourcePatternType.Literal, AclPermissionType.Allow)],
                described.AclBindings.Select(a => (a.Pattern.Name, a.Pattern.ResourcePatternType, a.Entry.PermissionType)).Order());
        }

        using (var admin = Admin(brokers[2]))
        {
            var deleted = await admin.DeleteAclsAsync([new AclBindingFilter
            {
                PatternFilter = new ResourcePatternFilter { Type = ResourceType.Any, ResourcePatternType = ResourcePatternType.Any },
                EntryFilter = new AccessControlEntryFilter { Operation = AclOperation.Any, PermissionType = AclPermissionType.Deny },
            }]);
            Assert.Equal("ord", Assert.Single(Assert.Single(deleted).AclBindings).Pattern.Name);
        }

        await AllHoldAsync(brokers, 1);

        Assert.Equal(ErrorCode.NoError, await ProduceAsync(bob, topic));
        Assert.All(brokers.Running.Values, b => Assert.Equal([topic], b.Core.Authorizer.Acls.Select(a => a.ResourceName)));

        // The cluster's users are listed through every broker; the brokers' configured users stay their own.
        foreach (var broker in brokers.Running.Values)
        {
            using var admin = Admin(broker);
            var users = await admin.DescribeUserScramCredentialsAsync([]);
            Assert.Equal(["bob"], users.UserScramCredentialsDescriptions.Select(u => u.User));
        }
    }

    [Fact]
    public async Task Concurrent_create_acls_through_two_brokers_all_land()
    {
        await using var brokers = await StartAsync("acl-race");
        const int RequestsPerBroker = 8;
        const int BindingsPerRequest = 5;
        var requests = new List<Task>();
        var admins = new[] { Admin(brokers[1]), Admin(brokers[2]) };
        try
        {
            for (var b = 0; b < admins.Length; b++)
            {
                for (var r = 0; r < RequestsPerBroker; r++)
                {
                    var admin = admins[b];
                    var names = Enumerable.Range(0, BindingsPerRequest).Select(i => string.Create(CultureInfo.InvariantCulture, $"t-{b}-{r}-{i}")).ToList();
                    requests.Add(Task.Run(() => admin.CreateAclsAsync([.. names.Select(n => Binding(ResourcePatternType.Literal, n, AclPermissionType.Allow))])));
                }
            }

            await Task.WhenAll(requests);
        }
        finally
        {
            foreach (var admin in admins)
            {
                admin.Dispose();
            }
        }

        await AllHoldAsync(brokers, 2 * RequestsPerBroker * BindingsPerRequest);
        var expected = Enumerable.Range(0, 2).SelectMany(b => Enumerable.Range(0, RequestsPerBroker)
            .SelectMany(r => Enumerable.Range(0, BindingsPerRequest).Select(i => string.Create(CultureInfo.InvariantCulture, $"t-{b}-{r}-{i}")))).Order(StringComparer.Ordinal).ToList();
        foreach (var broker in brokers.Running.Values)
        {
            using var admin = Admin(broker);
            var described = await admin.DescribeAclsAsync(Everything);
            Assert.Equal(expected, described.AclBindings.Select(a => a.Pattern.Name).Order(StringComparer.Ordinal));
        }

        // A broker that joins later reads them all at start.
        await brokers.StartAsync(4);
        Assert.Equal(expected, brokers[4].Core.Authorizer.Acls.Select(a => a.ResourceName).Order(StringComparer.Ordinal));

        // ACLs that would pass ClusterNode.AclsBytesMax are refused whole and never reach etcd or any broker.
        var huge = Enumerable.Range(0, ClusterNode.AclsBytesMax / 4000 + 1).Select(i => new Authz.AclBinding(Authz.AclResourceType.Topic,
            new string('h', 3990) + i.ToString(CultureInfo.InvariantCulture), Authz.AclPatternType.Literal, "User:bob", "*", Authz.AclOperation.Read, Authz.AclPermissionType.Allow)).ToList();
        Assert.All(brokers[3].Core.Authorizer.Create(huge), e => Assert.Contains(ClusterNode.AclsBytesMax.ToString(CultureInfo.InvariantCulture), e, StringComparison.Ordinal));
        Assert.All(brokers.Running.Values, b => Assert.Equal(expected.Count, b.Core.Authorizer.Acls.Count));
        Assert.All(brokers.Running.Values, b => Assert.DoesNotContain(b.Core.Authorizer.Acls, a => a.ResourceName.Length > 3000));
    }

    [Fact]
    public async Task Without_etcd_quorum_changes_time_out_whole_while_logins_and_decisions_go_on_from_the_cache()
    {
        await using var brokers = await StartAsync("acl-quorum");
        const string Topic = "steady";
        using var admin = Admin(brokers[1]);
        await admin.CreateTopicsAsync([new TopicSpecification { Name = Topic, NumPartitions = 1, ReplicasAssignments = new() { [0] = [2] } }]);
        await admin.AlterUserScramCredentialsAsync([new UserScramCredentialUpsertion
        {
            User = "bob",
            ScramCredentialInfo = new ScramCredentialInfo { Mechanism = ScramMechanism.ScramSha512, Iterations = 4096 },
            Password = Encoding.UTF8.GetBytes(BobPassword),
        }]);
        await admin.CreateAclsAsync([Binding(ResourcePatternType.Literal, Topic, AclPermissionType.Allow)]);
        await AllHoldAsync(brokers, 1);
        await ReplicationTests.WaitUntilAsync(() => brokers.Running.Values.All(b => b.Core.Cluster!.TryGetPartition(Topic, 0, out var s) && s.Leader == 2
            && b.Core.FindScramCredential("bob", SaslMechanisms.ScramSha512) is not null));

        fixture.Etcd.PauseMember(1);
        fixture.Etcd.PauseMember(2);
        try
        {
            var created = await Assert.ThrowsAsync<CreateAclsException>(() => admin.CreateAclsAsync(
                [Binding(ResourcePatternType.Literal, "a", AclPermissionType.Allow), Binding(ResourcePatternType.Literal, "b", AclPermissionType.Deny)]));
            Assert.Equal([ErrorCode.RequestTimedOut, ErrorCode.RequestTimedOut], created.Results.Select(r => r.Error.Code));

            var deleted = await Assert.ThrowsAsync<DeleteAclsException>(() => admin.DeleteAclsAsync([Everything]));
            Assert.Equal(ErrorCode.RequestTimedOut, Assert.Single(deleted.Results).Error.Code);

            var altered = await Assert.ThrowsAsync<AlterUserScramCredentialsException>(() => admin.AlterUserScramCredentialsAsync([new UserScramCredentialDeletion
            {
                User = "bob",
                Mechanism = ScramMechanism.ScramSha512,
            }]));
            Assert.Equal(ErrorCode.RequestTimedOut, Assert.Single(altered.Results).Error.Code);

            // Nothing was changed, DescribeAcls answers from the cache, and bob still logs in and is allowed.
            Assert.Single((await admin.DescribeAclsAsync(Everything)).AclBindings);
            Assert.All(brokers.Running.Values, b => Assert.Single(b.Core.Authorizer.Acls));
            Assert.Equal(ErrorCode.NoError, await ProduceAsync(Login(brokers[2], "bob", BobPassword), Topic));
        }
        finally
        {
            fixture.Etcd.ResumeMember(1);
            fixture.Etcd.ResumeMember(2);
        }

        await fixture.Etcd.WaitHealthyAsync();
    }

    private static Task AllHoldAsync(EtcdBrokers brokers, int acls) =>
        ReplicationTests.WaitUntilAsync(() => brokers.Running.Values.All(b => b.Core.Authorizer.Acls.Count == acls));

    private static AclBindingFilter Everything => new()
    {
        PatternFilter = new ResourcePatternFilter { Type = ResourceType.Any, ResourcePatternType = ResourcePatternType.Any },
        EntryFilter = new AccessControlEntryFilter { Operation = AclOperation.Any, PermissionType = AclPermissionType.Any },
    };

    private static AclBinding Binding(ResourcePatternType pattern, string name, AclPermissionType permission) => new()
    {
        Pattern = new ResourcePattern { Type = ResourceType.Topic, Name = name, ResourcePatternType = pattern },
        Entry = new AccessControlEntry { Principal = "User:bob", Host = "*", Operation = AclOperation.Write, PermissionType = permission },
    };

    // Three brokers with the authorizer on. Each is configured with the admin and its own login (static users, kept in
    // its local store) and names both super users; replication logs in with SCRAM as the broker user.
    private async Task<EtcdBrokers> StartAsync(string name)
    {
        var brokers = new EtcdBrokers(fixture.Etcd, name, (_, options) =>
        {
            options.SaslUsers["admin"] = AdminPassword;
            options.SaslUsers["broker"] = BrokerPassword;
            options.Config["sasl.enabled.mechanisms"] = SaslMechanisms.ScramSha512;
            options.Config["security.inter.broker.protocol"] = ListenerSecurity.SaslPlaintext;
            options.Config["sasl.mechanism.inter.broker.protocol"] = SaslMechanisms.ScramSha512;
            options.Config["listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config"] =
                $"{JaasConfig.ScramLoginModule} required username=\"broker\" password=\"{BrokerPassword}\";";
            options.Config["authorizer.class.name"] = Authz.Authorizer.StandardAuthorizerClass;
            options.Config["super.users"] = "User:admin;User:broker";
        });
        try
        {
            await brokers.StartAllAsync(3);
            return brokers;
        }
        catch
        {
            await brokers.DisposeAsync();
            throw;
        }
    }

    private static ClientConfig Login(TributaryBroker broker, string user, string password) => new()
    {
        BootstrapServers = broker.BootstrapServers,
        SecurityProtocol = SecurityProtocol.SaslPlaintext,
        SaslMechanism = SaslMechanism.ScramSha512,
        SaslUsername = user,
        SaslPassword = password,
    };

    private static IAdminClient Admin(TributaryBroker broker) => new AdminClientBuilder(new AdminClientConfig(Login(broker, "admin", AdminPassword))).Build();

    private static async Task<ErrorCode> ProduceAsync(ClientConfig client, string topic)
    {
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig(client) { MessageTimeoutMs = 10_000 }).Build();
        try
        {
            await producer.ProduceAsync(topic, new Message<Null, string> { Value = "v" });
            return ErrorCode.NoError;
        }
        catch (ProduceException<Null, string> e)
        {
            return e.Error.Code;
        }
    }
}
