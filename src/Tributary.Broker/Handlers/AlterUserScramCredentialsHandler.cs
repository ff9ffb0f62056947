using Microsoft.Extensions.Logging;
using Tributary.Broker.Cluster;
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
// - The alterations of all users without an error are stored in one durable write: in cluster mode one etcd
//   transaction comparing each user's key (ClusterNode.Security.cs), seen by every broker; etcd not committing it
//   in time (ClusterNode.MetadataChangeTimeoutMsMax) is REQUEST_TIMED_OUT for those users, and nothing is stored.
//   Credentials configured on one broker (the embedded broker's users) stay that broker's and are not listed.
// - Limits (Tributary's): more than UsersMax users refuse every user with INVALID_REQUEST (logged); a name longer
//   than UserNameCharsMax is UNACCEPTABLE_CREDENTIAL; in cluster mode, users past ClusterNode.ScramUsersMax are
//   INVALID_REQUEST.
// Versions:
// - v0 only (flexible).
public sealed partial class AlterUserScramCredentialsHandler(BrokerCore broker)
    : ApiHandler<AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse>(ApiKey.AlterUserScramCredentials, 0, 0)
{
    /// <summary>Users one request may alter: one etcd transaction holds them all in cluster mode (<see cref="ClusterNode.ScramUsersPerChangeMax"/>).</summary>
    public const int UsersMax = ClusterNode.ScramUsersPerChangeMax;

    /// <summary>Characters of a user name.</summary>
    public const int UserNameCharsMax = 1024;

    private readonly ILogger _logger = broker.LoggerFactory.CreateLogger<AlterUserScramCredentialsHandler>();

    protected override ValueTask<HandlerResult<AlterUserScramCredentialsResponse>> HandleAsync(RequestContext context, AlterUserScramCredentialsRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.AuthorizeCluster(context, AclOperation.Alter))
        {
            return ValueTask.FromResult<HandlerResult<AlterUserScramCredentialsResponse>>(ErrorResponse(context, request, ErrorCode.ClusterAuthorizationFailed)!);
        }

        var alterations = request.Deletions.Select(d => (d.Name, d.Mechanism, Upsertion: (AlterUserScramCredentialsRequest.ScramCredentialUpsertion?)null))
            .Concat(request.Upsertions.Select(u => (u.Name, u.Mechanism, Upsertion: (AlterUserScramCredentialsRequest.ScramCredentialUpsertion?)u)))
            .ToList();
        var named = alterations.Select(a => a.Name).Distinct(StringComparer.Ordinal).ToList();
        if (named.Count > UsersMax)
        {
            LogRefused(_logger, named.Count, context.Connection.Principal, UsersMax);
            return ValueTask.FromResult<HandlerResult<AlterUserScramCredentialsResponse>>(Answer(named, new Dictionary<string, (ErrorCode, string)>(), (ErrorCode.InvalidRequest, $"at most {UsersMax} users in one request")));
        }

        var existing = broker.ScramUsers();
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
            if (Check(name, mechanism, upsertion, existing) is { } error)
            {
                errors[name] = error;
                changes.RemoveAll(c => c.User == name);
                continue;
            }

            changes.Add(upsertion is null
                ? (name, mechanism!, null)
                : (name, mechanism!, Scram.Credential(mechanism!, upsertion.SaltedPassword, upsertion.Salt, upsertion.Iterations)));
        }

        var added = changes.Select(c => c.User).Distinct(StringComparer.Ordinal).Count(u => !existing.ContainsKey(u));
        if (broker.Cluster is not null && added > 0 && existing.Count + added > ClusterNode.ScramUsersMax)
        {
            LogUsersFull(_logger, added, existing.Count, ClusterNode.ScramUsersMax);
            return ValueTask.FromResult<HandlerResult<AlterUserScramCredentialsResponse>>(
                Answer(named, errors, (ErrorCode.InvalidRequest, $"the cluster keeps SCRAM credentials of at most {ClusterNode.ScramUsersMax} users")));
        }

        if (changes.Count > 0)
        {
            try
            {
                using var etcdWait = ClusterNode.ChangeTimeout(0, cancellationToken);
                broker.AlterScramCredentials(changes, etcdWait.Token);
            }
            catch (ClusterTimeoutException e)
            {
                // Cluster mode: etcd did not commit the change, so none of it is stored; clients retry.
                return ValueTask.FromResult<HandlerResult<AlterUserScramCredentialsResponse>>(Answer(named, errors, (ErrorCode.RequestTimedOut, e.Message)));
            }
        }

        return ValueTask.FromResult<HandlerResult<AlterUserScramCredentialsResponse>>(Answer(named, errors, (ErrorCode.None, null)));
    }

    // One result per user named: its own error, else the outcome of the change.
    private static AlterUserScramCredentialsResponse Answer(IReadOnlyList<string> users, IReadOnlyDictionary<string, (ErrorCode Code, string Message)> errors,
        (ErrorCode Code, string? Message) outcome)
    {
        var response = new AlterUserScramCredentialsResponse();
        foreach (var name in users)
        {
            var (code, message) = errors.TryGetValue(name, out var error) ? error : outcome;
            response.Results.Add(new AlterUserScramCredentialsResponse.AlterUserScramCredentialsResult { User = name, ErrorCode = (short)code, ErrorMessage = message });
        }

        return response;
    }

    private static (ErrorCode, string)? Check(string name, string? mechanism, AlterUserScramCredentialsRequest.ScramCredentialUpsertion? upsertion,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> existing)
    {
        if (name.Length == 0)
        {
            return (ErrorCode.UnacceptableCredential, "Username must not be empty");
        }

        if (name.Length > UserNameCharsMax)
        {
            return (ErrorCode.UnacceptableCredential, $"Username is longer than {UserNameCharsMax} characters");
        }

        if (mechanism is null)
        {
            return (ErrorCode.UnsupportedSaslMechanism, "Unknown SCRAM mechanism");
        }

        if (upsertion is null)
        {
            return !existing.TryGetValue(name, out var mechanisms) || !mechanisms.ContainsKey(mechanism)
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

    [LoggerMessage(EventId = 1225, Level = LogLevel.Warning, Message = "AlterUserScramCredentials naming {Users} users from {Principal} refused: at most {UsersMax}")]
    private static partial void LogRefused(ILogger logger, int users, string principal, int usersMax);

    [LoggerMessage(EventId = 1227, Level = LogLevel.Warning, Message = "AlterUserScramCredentials adding {Added} users to the cluster's {Users} refused: at most {UsersMax}")]
    private static partial void LogUsersFull(ILogger logger, int added, int users, int usersMax);
}
