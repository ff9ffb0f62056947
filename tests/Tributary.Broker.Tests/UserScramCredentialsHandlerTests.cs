using Tributary.Broker.Handlers;
using Tributary.Broker.Security;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using static Tributary.Protocol.Messages.AlterUserScramCredentialsRequest;

namespace Tributary.Broker.Tests;

/// <summary>
/// AlterUserScramCredentials and DescribeUserScramCredentials with Kafka's errors; credentials survive a restart and
/// the stored snapshot holds no salted password, only what verifies a proof.
/// </summary>
public sealed class UserScramCredentialsHandlerTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tributary-scram-").FullName;

    [Fact]
    public async Task Upserted_credentials_are_described_survive_a_restart_and_log_their_user_in()
    {
        var salt = new byte[] { 1, 2, 3, 4 };
        var salted = Scram.SaltedPassword(SaslMechanisms.ScramSha256, "pw", salt, 8192);
        using (var broker = TestBroker.OnDisk(_directory))
        {
            var altered = await AlterAsync(broker, upsertions: [new ScramCredentialUpsertion { Name = "alice", Mechanism = 1, Iterations = 8192, Salt = salt, SaltedPassword = salted }]);
            Assert.Equal(("alice", (short)0), (altered.Results.Single().User, altered.Results.Single().ErrorCode));
        }

        Assert.DoesNotContain(Convert.ToBase64String(salted), File.ReadAllText(Path.Combine(_directory, Metadata.MetadataStore.FileName)), StringComparison.Ordinal);
        using var restarted = TestBroker.OnDisk(_directory);
        var described = await DescribeAsync(restarted, null);
        var result = Assert.Single(described.Results);
        Assert.Equal("alice", result.User);
        Assert.Equal([(SaslMechanisms.ScramSha256Type, 8192)], result.CredentialInfos.Select(c => (c.Mechanism, c.Iterations)));
        Assert.Equal(Scram.Credential(SaslMechanisms.ScramSha256, salted, salt, 8192).StoredKey, restarted.Core.Metadata.FindScramCredential("alice", SaslMechanisms.ScramSha256)!.StoredKey);
    }

    [Fact]
    public async Task Bad_alterations_get_kafkas_errors_and_leave_their_user_unchanged()
    {
        using var broker = new TestBroker();
        var good = new byte[32];

        var altered = await AlterAsync(broker,
            deletions: [new ScramCredentialDeletion { Name = "ghost", Mechanism = 1 }],
            upsertions:
            [
                new ScramCredentialUpsertion { Name = "few", Mechanism = 1, Iterations = 4095, Salt = [1], SaltedPassword = good },
                new ScramCredentialUpsertion { Name = "many", Mechanism = 1, Iterations = 16385, Salt = [1], SaltedPassword = good },
                new ScramCredentialUpsertion { Name = "", Mechanism = 1, Iterations = 4096, Salt = [1], SaltedPassword = good },
                new ScramCredentialUpsertion { Name = "unknown", Mechanism = 0, Iterations = 4096, Salt = [1], SaltedPassword = good },
                new ScramCredentialUpsertion { Name = "twice", Mechanism = 1, Iterations = 4096, Salt = [1], SaltedPassword = good },
                new ScramCredentialUpsertion { Name = "twice", Mechanism = 1, Iterations = 4096, Salt = [1], SaltedPassword = good },
                new ScramCredentialUpsertion { Name = "ok", Mechanism = 2, Iterations = 4096, Salt = [1], SaltedPassword = new byte[64] },
            ]);

        var errors = altered.Results.ToDictionary(r => r.User, r => ((ErrorCode)r.ErrorCode, r.ErrorMessage));
        Assert.Equal((ErrorCode.ResourceNotFound, "Attempt to delete a user credential that does not exist"), errors["ghost"]);
        Assert.Equal((ErrorCode.UnacceptableCredential, "Too few iterations"), errors["few"]);
        Assert.Equal((ErrorCode.UnacceptableCredential, "Too many iterations"), errors["many"]);
        Assert.Equal((ErrorCode.UnacceptableCredential, "Username must not be empty"), errors[""]);
        Assert.Equal((ErrorCode.UnsupportedSaslMechanism, "Unknown SCRAM mechanism"), errors["unknown"]);
        Assert.Equal((ErrorCode.DuplicateResource, "A user credential cannot be altered twice in the same request"), errors["twice"]);
        Assert.Equal((ErrorCode.None, null), errors["ok"]);
        Assert.Equal(["ok"], broker.Core.Metadata.ScramUsers().Keys);
    }

    [Fact]
    public async Task Describing_unknown_or_repeated_users_gives_kafkas_errors()
    {
        using var broker = new TestBroker();
        broker.Core.Metadata.AlterScramCredentials([("bob", SaslMechanisms.ScramSha512, Scram.Credential(SaslMechanisms.ScramSha512, "x"))]);

        var described = await DescribeAsync(broker, ["bob", "nobody", "bob"]);

        var results = described.Results.ToDictionary(r => r.User);
        Assert.Equal((short)ErrorCode.DuplicateResource, results["bob"].ErrorCode);
        Assert.Equal("Attempt to describe a user credential that does not exist: nobody", results["nobody"].ErrorMessage);
        Assert.Equal((short)ErrorCode.ResourceNotFound, results["nobody"].ErrorCode);
    }

    [Fact]
    public async Task Deleting_a_users_last_mechanism_removes_the_user()
    {
        using var broker = new TestBroker();
        broker.Core.Metadata.AlterScramCredentials([("bob", SaslMechanisms.ScramSha512, Scram.Credential(SaslMechanisms.ScramSha512, "x"))]);

        var altered = await AlterAsync(broker, deletions: [new ScramCredentialDeletion { Name = "bob", Mechanism = 2 }]);

        Assert.Equal(0, altered.Results.Single().ErrorCode);
        Assert.Empty((await DescribeAsync(broker, null)).Results);
    }

    [Fact]
    public async Task Too_many_users_in_one_request_are_all_refused_and_a_too_long_name_is_unacceptable()
    {
        using var broker = new TestBroker();
        var salted = new byte[32];

        var tooMany = await AlterAsync(broker, upsertions: [.. Enumerable.Range(0, AlterUserScramCredentialsHandler.UsersMax + 1)
            .Select(i => new ScramCredentialUpsertion { Name = "u" + i, Mechanism = 1, Iterations = 4096, Salt = [1], SaltedPassword = salted })]);
        var tooLong = await AlterAsync(broker, upsertions:
        [
            new ScramCredentialUpsertion { Name = new string('u', AlterUserScramCredentialsHandler.UserNameCharsMax + 1), Mechanism = 1, Iterations = 4096, Salt = [1], SaltedPassword = salted },
            new ScramCredentialUpsertion { Name = "short", Mechanism = 1, Iterations = 4096, Salt = [1], SaltedPassword = salted },
        ]);

        Assert.Equal(AlterUserScramCredentialsHandler.UsersMax + 1, tooMany.Results.Count);
        Assert.All(tooMany.Results, r => Assert.Equal((short)ErrorCode.InvalidRequest, r.ErrorCode));
        Assert.Equal([(short)ErrorCode.UnacceptableCredential, 0], tooLong.Results.Select(r => r.ErrorCode));
        Assert.Equal(["short"], (await DescribeAsync(broker, null)).Results.Select(r => r.User));
    }

    private static Task<AlterUserScramCredentialsResponse> AlterAsync(TestBroker broker, List<ScramCredentialDeletion>? deletions = null, List<ScramCredentialUpsertion>? upsertions = null) =>
        broker.SendAsync(new AlterUserScramCredentialsHandler(broker.Core), new AlterUserScramCredentialsRequest { Deletions = deletions ?? [], Upsertions = upsertions ?? [] }, 0);

    private static Task<DescribeUserScramCredentialsResponse> DescribeAsync(TestBroker broker, string[]? users) =>
        broker.SendAsync(new DescribeUserScramCredentialsHandler(broker.Core),
            new DescribeUserScramCredentialsRequest { Users = users is null ? null : [.. users.Select(u => new DescribeUserScramCredentialsRequest.UserName { Name = u })] }, 0);

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
