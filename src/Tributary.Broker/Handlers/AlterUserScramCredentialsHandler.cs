using Tributary.Broker.Dispatch;
using Tributary.Broker.Security;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// AlterUserScramCredentials v0 (KIP-554).
// Behaviour:
// - Authorization: ALTER on the cluster, else CLUSTER_AUTHORIZATION_FAILED for every user.
// - Upsertions carry the salted password the client derived (Hi(password, salt, iterations)); the broker keeps only
//   StoredKey and ServerKey derived from it, with the salt and iterations, in the metadata store.
// - One result per user named; a user with any bad alteration has none of its alterations applied. Kafka's errors:
//   UNSUPPORTED_SASL_MECHANISM (unknown mechanism), UNACCEPTABLE_CREDENTIAL (empty user, iterations outside
//   4096-16384, empty salt, a salted password not of the mechanism's hash size), RESOURCE_NOT_FOUND (deleting a
//   credential that does not exist), DUPLICATE_RESOURCE (a user and mechanism altered twice in one request).
// - The alterations of all users without an error are stored in one durable write.
// Versions:
// - v0 only (flexible).
public sealed class AlterUserScramCredentialsHandler(BrokerCore broker)
    : ApiHandler<AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse>(ApiKey.AlterUserScramCredentials, 0, 0)
{
    protected override ValueTask<HandlerResult<AlterUserScramCredentialsResponse>> HandleAsync(RequestContext context, AlterUserScramCredentialsRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.AuthorizeCluster(context, AclOperation.Alter))
        {
            return ValueTask.FromResult<HandlerResult<AlterUserScramCredentialsResponse>>(ErrorResponse(context, request, ErrorCode.ClusterAuthorizationFailed)!);
        }

        var alterations = request.Deletions.Select(d => (d.Name, d.Mechanism, Upsertion: (AlterUserScramCredentialsRequest.ScramCredentialUpsertion?)null))
            .Concat(request.Upsertions.Select(u => (u.Name, u.Mechanism, Upsertion: (AlterUserScramCredentialsRequest.ScramCredentialUpsertion?)u)))
            .ToList();
        var errors = new Dictionary<string, (ErrorCode Code, string Message)>(StringComparer.Ordinal);
        var changes = new List<(string User, string Mechanism, ScramCredential? Credential)>();
        foreach (var duplicate in alterations.GroupBy(a => (a.Name, a.Mechanism)).Where(g => g.Count() > 1))
        {
            errors.TryAdd(duplicate.Key.Name, (ErrorCode.DuplicateResource, "A user credential cannot be altered twice in the same request"));
        }

        foreach (var (name, type, upsertion) in alterations)
        {
            if (errors.ContainsKey(name))
            {
                continue;
            }

            var mechanism = SaslMechanisms.ScramName(type);
            if (Check(name, mechanism, upsertion) is { } error)
            {
                errors[name] = error;
                changes.RemoveAll(c => c.User == name);
                continue;
            }

            changes.Add(upsertion is null
                ? (name, mechanism!, null)
                : (name, mechanism!, Scram.Credential(mechanism!, upsertion.SaltedPassword, upsertion.Salt, upsertion.Iterations)));
        }

        if (changes.Count > 0)
        {
            broker.Metadata.AlterScramCredentials(changes);
        }

        var response = new AlterUserScramCredentialsResponse();
        foreach (var name in alterations.Select(a => a.Name).Distinct(StringComparer.Ordinal))
        {
            var (code, message) = errors.GetValueOrDefault(name);
            response.Results.Add(new AlterUserScramCredentialsResponse.AlterUserScramCredentialsResult { User = name, ErrorCode = (short)code, ErrorMessage = message });
        }

        return ValueTask.FromResult<HandlerResult<AlterUserScramCredentialsResponse>>(response);
    }

    private (ErrorCode, string)? Check(string name, string? mechanism, AlterUserScramCredentialsRequest.ScramCredentialUpsertion? upsertion)
    {
        if (name.Length == 0)
        {
            return (ErrorCode.UnacceptableCredential, "Username must not be empty");
        }

        if (mechanism is null)
        {
            return (ErrorCode.UnsupportedSaslMechanism, "Unknown SCRAM mechanism");
        }

        if (upsertion is null)
        {
            return broker.Metadata.FindScramCredential(name, mechanism) is null
                ? (ErrorCode.ResourceNotFound, "Attempt to delete a user credential that does not exist")
                : null;
        }

        return upsertion.Iterations < Scram.IterationsMin ? (ErrorCode.UnacceptableCredential, "Too few iterations")
            : upsertion.Iterations > Scram.IterationsMax ? (ErrorCode.UnacceptableCredential, "Too many iterations")
            : upsertion.Salt.Length == 0 ? (ErrorCode.UnacceptableCredential, "Salt must not be empty")
            : upsertion.SaltedPassword.Length != Scram.HashBytes(Scram.HashOf(mechanism)) ? (ErrorCode.UnacceptableCredential, $"A salted password of {mechanism} has {Scram.HashBytes(Scram.HashOf(mechanism))} bytes")
            : null;
    }

    protected override AlterUserScramCredentialsResponse? ErrorResponse(RequestContext context, AlterUserScramCredentialsRequest request, ErrorCode error) => new()
    {
        Results = [.. request.Deletions.Select(d => d.Name).Concat(request.Upsertions.Select(u => u.Name)).Distinct(StringComparer.Ordinal)
            .Select(name => new AlterUserScramCredentialsResponse.AlterUserScramCredentialsResult { User = name, ErrorCode = (short)error, ErrorMessage = null })],
    };
}
