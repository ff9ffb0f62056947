using Tributary.Broker.Security;
using Tributary.Broker.Security.Authorization;
using Tributary.Server;

namespace Tributary.Console.Tests;

/// <summary>
/// A broker with a SASL listener and the standard authorizer: admin (super user) and alice (PLAIN and SCRAM users;
/// alice may only DESCRIBE and READ the topic "open"), and carol, who has only a SCRAM-SHA-512 credential. The topic
/// "closed" is there for alice not to see.
/// </summary>
public sealed class SecuredConsoleFixture : ConsoleFixture
{
    protected override TributaryBrokerOptions BrokerOptions
    {
        get
        {
            var options = new TributaryBrokerOptions { InMemory = true, Topics = { ["open"] = 2, ["closed"] = 1 } };
            options.SaslUsers["admin"] = "adm1n-secret";
            options.SaslUsers["alice"] = "al1ce-secret";
            options.Config["authorizer.class.name"] = Authorizer.StandardAuthorizerClass;
            options.Config["super.users"] = "User:admin";
            return options;
        }
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Broker.Core.Metadata.AlterScramCredentials([("carol", SaslMechanisms.ScramSha512, Scram.Credential(SaslMechanisms.ScramSha512, "car0l-secret"))]);
        Broker.Core.Authorizer.Create(
        [
            new AclBinding(AclResourceType.Topic, "open", AclPatternType.Literal, "User:alice", "*", AclOperation.Describe, AclPermissionType.Allow),
            new AclBinding(AclResourceType.Topic, "open", AclPatternType.Literal, "User:alice", "*", AclOperation.Read, AclPermissionType.Allow),
        ]);
    }
}
