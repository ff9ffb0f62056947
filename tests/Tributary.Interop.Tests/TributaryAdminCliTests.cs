using System.Text.Json;
using Tributary.Broker.Security.Authorization;
using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// The built <c>tributary</c> executable's acls, users, quotas and cluster commands against a broker with the
/// authorizer on (the plaintext caller is a super user): what one command writes, the matching list command reads
/// back from the broker, in tab-separated text and in JSON.
/// </summary>
public sealed class TributaryAdminCliTests
{
    private static readonly TimeSpan CliTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task AclsUsersAndQuotasAreWrittenAndReadBackAndClusterShowsTheBrokerAndPartitions()
    {
        var options = new TributaryBrokerOptions();
        options.Config["authorizer.class.name"] = Authorizer.StandardAuthorizerClass;
        options.Config["super.users"] = "User:ANONYMOUS";
        options.Topics["orders"] = 2;
        await using var broker = await TributaryBroker.StartAsync(options);

        await RunAsync(broker, "acls", "create", "--principal", "User:alice", "--operation", "read", "--resource-type", "topic", "--resource-name", "orders");
        await RunAsync(broker, "acls", "create", "--principal", "User:app", "--operation", "write", "--resource-type", "topic", "--resource-name", "app-", "--pattern-type", "prefixed", "--permission", "deny");
        var acls = Lines(await RunAsync(broker, "acls", "list"));
        Assert.Equal(
            [
                "RESOURCE-TYPE\tRESOURCE-NAME\tPATTERN\tPRINCIPAL\tHOST\tOPERATION\tPERMISSION",
                "TOPIC\tapp-\tPREFIXED\tUser:app\t*\tWRITE\tDENY",
                "TOPIC\torders\tLITERAL\tUser:alice\t*\tREAD\tALLOW",
            ],
            acls);
        Assert.Equal("deleted 1 ACL(s)", (await RunAsync(broker, "acls", "delete", "--principal", "User:app")).Trim());
        using (var remaining = JsonDocument.Parse(await RunAsync(broker, "acls", "list", "--output", "json")))
        {
            var only = Assert.Single(remaining.RootElement.EnumerateArray());
            Assert.Equal("User:alice", only.GetProperty("principal").GetString());
        }

        await RunAsync(broker, "users", "set", "alice", "--password", "alice-secret");
        await RunAsync(broker, "users", "set", "alice", "--password", "other-secret", "--mechanism", "SCRAM-SHA-512", "--iterations", "8192");
        Assert.Equal(["USER\tMECHANISM\tITERATIONS", "alice\tSCRAM-SHA-256\t4096", "alice\tSCRAM-SHA-512\t8192"], Lines(await RunAsync(broker, "users", "list")));
        await RunAsync(broker, "users", "delete", "alice", "--mechanism", "SCRAM-SHA-256");
        using (var users = JsonDocument.Parse(await RunAsync(broker, "users", "list", "--output", "json")))
        {
            var only = Assert.Single(users.RootElement.EnumerateArray());
            Assert.Equal("SCRAM-SHA-512", only.GetProperty("mechanism").GetString());
        }

        await RunAsync(broker, "quotas", "set", "--user", "alice", "--add", "producer_byte_rate=1048576", "--add", "consumer_byte_rate=2097152");
        await RunAsync(broker, "quotas", "set", "--client-id-default", "--add", "request_percentage=50");
        await RunAsync(broker, "quotas", "set", "--user", "alice", "--remove", "consumer_byte_rate");
        Assert.Equal(
            ["ENTITY\tQUOTA\tVALUE", "client-id=<default>\trequest_percentage\t50", "user=alice\tproducer_byte_rate\t1048576"],
            Lines(await RunAsync(broker, "quotas", "list")));

        var cluster = Lines(await RunAsync(broker, "cluster"));
        var port = broker.BootstrapServers[(broker.BootstrapServers.LastIndexOf(':') + 1)..];
        Assert.Equal($"0\t127.0.0.1\t{port}\t-", cluster[2]);
        Assert.Contains("orders\t0\t0\t0\t0", cluster);
        Assert.Contains("orders\t1\t0\t0\t0", cluster);
        using var json = JsonDocument.Parse(await RunAsync(broker, "cluster", "--output", "json"));
        Assert.Equal(broker.Core.Metadata.ClusterId, json.RootElement.GetProperty("clusterId").GetString());
        Assert.Equal(2, json.RootElement.GetProperty("partitions").EnumerateArray().Count(p => p.GetProperty("topic").GetString() == "orders"));
    }

    [Fact]
    public async Task IpQuotasAreSetListedAndRemovedAndACombinationWithAUserIsRefused()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions());

        await RunAsync(broker, "quotas", "set", "--ip", "127.0.0.2", "--add", "connection_creation_rate=5");
        await RunAsync(broker, "quotas", "set", "--ip-default", "--add", "connection_creation_rate=1000");
        await RunAsync(broker, "quotas", "set", "--user", "alice", "--add", "producer_byte_rate=1024");
        Assert.Equal(
            ["ENTITY\tQUOTA\tVALUE", "ip=127.0.0.2\tconnection_creation_rate\t5", "ip=<default>\tconnection_creation_rate\t1000", "user=alice\tproducer_byte_rate\t1024"],
            Lines(await RunAsync(broker, "quotas", "list")));
        Assert.Equal(["ENTITY\tQUOTA\tVALUE", "ip=<default>\tconnection_creation_rate\t1000"], Lines(await RunAsync(broker, "quotas", "list", "--ip-default")));
        Assert.Equal(5, broker.Core.Quotas.ConnectionCreationRateFor(System.Net.IPAddress.Parse("127.0.0.2")));

        // Kafka's refusals reach the user: ip with a user, and a key an ip entity does not have.
        var combined = await RunFailingAsync(broker, "quotas", "set", "--user", "alice", "--ip", "127.0.0.2", "--add", "connection_creation_rate=5");
        Assert.Contains("IP entity should not be combined with User or ClientId", combined, StringComparison.Ordinal);
        var wrongKey = await RunFailingAsync(broker, "quotas", "set", "--ip", "127.0.0.2", "--add", "producer_byte_rate=5");
        Assert.Contains("Invalid configuration key producer_byte_rate", wrongKey, StringComparison.Ordinal);

        await RunAsync(broker, "quotas", "set", "--ip", "127.0.0.2", "--remove", "connection_creation_rate");
        Assert.Equal(["ENTITY\tQUOTA\tVALUE"], Lines(await RunAsync(broker, "quotas", "list", "--ip", "127.0.0.2")));
        Assert.Equal(1000, broker.Core.Quotas.ConnectionCreationRateFor(System.Net.IPAddress.Parse("127.0.0.2")));
    }

    private static async Task<string> RunFailingAsync(TributaryBroker broker, params string[] arguments)
    {
        var run = await ProcessRunner.RunAsync(StandaloneBroker.DotnetHost, [RepositoryPaths.TributaryDll, .. arguments, "--bootstrap", broker.BootstrapServers], CliTimeout);
        Assert.True(run.ExitCode != 0, $"tributary {string.Join(' ', arguments)} succeeded: " + run.Describe());
        return run.StandardError;
    }

    private static List<string> Lines(string output) => [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries)];

    private static async Task<string> RunAsync(TributaryBroker broker, params string[] arguments)
    {
        var run = await ProcessRunner.RunAsync(StandaloneBroker.DotnetHost, [RepositoryPaths.TributaryDll, .. arguments, "--bootstrap", broker.BootstrapServers], CliTimeout);
        Assert.True(run.ExitCode == 0, $"tributary {string.Join(' ', arguments)} failed: " + run.Describe());
        return run.StandardOutput;
    }
}
