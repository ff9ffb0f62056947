using System.Text.Json;
using Tributary.Broker.Security.Authorization;
using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// librdkafka (Debian's kcat) logged in with SCRAM-SHA-256 on a broker with the authorizer on: a topic its user may
/// write and read works end to end; one it has no ACL for fails with Kafka's authorization error.
/// </summary>
public sealed class KcatAclTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("tributary-kcat-acl-").FullName;

    [Fact]
    public async Task A_permitted_topic_works_and_a_denied_one_fails_with_the_authorization_error()
    {
        var options = new TributaryBrokerOptions { Topics = { ["permitted"] = 1, ["denied"] = 1 } };
        options.SaslUsers["alice"] = "al1ce-secret";
        options.Config["authorizer.class.name"] = Authorizer.StandardAuthorizerClass;
        await using var broker = await TributaryBroker.StartAsync(options);
        broker.Core.Authorizer.Create(
        [
            new AclBinding(AclResourceType.Topic, "permitted", AclPatternType.Literal, "User:alice", "*", AclOperation.Write, AclPermissionType.Allow),
            new AclBinding(AclResourceType.Topic, "permitted", AclPatternType.Literal, "User:alice", "*", AclOperation.Read, AclPermissionType.Allow),
        ]);
        var input = Path.Combine(_work, "in.txt");
        await File.WriteAllLinesAsync(input, Enumerable.Range(0, 5).Select(i => $"k{i}\tv{i}"));

        await KcatRunner.ProduceLinesAsync(broker.BootstrapServers, "permitted", input, [.. Sasl, "-X", "acks=all"]);
        var output = Path.Combine(_work, "out.json");
        var consumed = await KcatRunner.RunAsync(["-C", "-b", broker.BootstrapServers, "-t", "permitted", "-o", "beginning", "-e", "-J", "-q", .. Sasl], output);
        Assert.True(consumed.ExitCode == 0, "kcat -C failed: " + consumed.Describe());
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"v{i}"), File.ReadLines(output).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<KcatMessage>(l)!.Payload));

        var denied = await KcatRunner.RunAsync(["-P", "-b", broker.BootstrapServers, "-t", "denied", "-X", "message.timeout.ms=10000", .. Sasl, input]);
        Assert.Contains("Topic authorization failed", denied.StandardError, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, broker.Core.FindLog(broker.Core.Metadata.Find("denied")!, 0)!.HighWatermark);
    }

    private static string[] Sasl =>
        ["-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=SCRAM-SHA-256", "-X", "sasl.username=alice", "-X", "sasl.password=al1ce-secret"];

    public void Dispose() => Directory.Delete(_work, recursive: true);
}
