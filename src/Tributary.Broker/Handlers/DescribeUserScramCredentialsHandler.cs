using Tributary.Broker.Dispatch;
using Tributary.Broker.Security;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// DescribeUserScramCredentials v0 (KIP-554).
// Behaviour:
// - Authorization: DESCRIBE on the cluster, else CLUSTER_AUTHORIZATION_FAILED.
// - Users null or empty: every user with a SCRAM credential; else the users named, each with its mechanisms and
//   iteration counts (never the salt or keys). Results by user name. In cluster mode the cluster's users (etcd, as
//   this broker's cache holds them), the same on every broker.
// - A user without a credential is RESOURCE_NOT_FOUND, one named twice DUPLICATE_RESOURCE, with Kafka's messages.
// Versions:
// - v0 only (flexible).
public sealed class DescribeUserScramCredentialsHandler(BrokerCore broker)
    : ApiHandler<DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse>(ApiKey.DescribeUserScramCredentials, 0, 0)
{
    protected override ValueTask<HandlerResult<DescribeUserScramCredentialsResponse>> HandleAsync(RequestContext context, DescribeUserScramCredentialsRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.AuthorizeCluster(context, AclOperation.Describe))
        {
            return ValueTask.FromResult<HandlerResult<DescribeUserScramCredentialsResponse>>(ErrorResponse(context, request, ErrorCode.ClusterAuthorizationFailed)!);
        }

        var users = broker.ScramUsers();
        var response = new DescribeUserScramCredentialsResponse { ErrorCode = 0, ErrorMessage = null };
        if (request.Users is null or [])
        {
            response.Results = [.. users.OrderBy(u => u.Key, StringComparer.Ordinal).Select(u => Described(u.Key, u.Value))];
            return ValueTask.FromResult<HandlerResult<DescribeUserScramCredentialsResponse>>(response);
        }

        var counts = request.Users.GroupBy(u => u.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        foreach (var name in request.Users.Select(u => u.Name).Distinct(StringComparer.Ordinal))
        {
            response.Results.Add(counts[name] > 1
                ? Error(name, ErrorCode.DuplicateResource, $"Cannot describe SCRAM credentials for the same user twice in a single request: {name}")
                : users.TryGetValue(name, out var mechanisms)
                    ? Described(name, mechanisms)
                    : Error(name, ErrorCode.ResourceNotFound, $"Attempt to describe a user credential that does not exist: {name}"));
        }

        return ValueTask.FromResult<HandlerResult<DescribeUserScramCredentialsResponse>>(response);
    }

    private static DescribeUserScramCredentialsResponse.DescribeUserScramCredentialsResult Described(string user, IReadOnlyDictionary<string, int> mechanisms) => new()
    {
        User = user,
        ErrorCode = 0,
        ErrorMessage = null,
        CredentialInfos = [.. mechanisms.OrderBy(m => SaslMechanisms.ScramType(m.Key)).Select(m => new DescribeUserScramCredentialsResponse.CredentialInfo
        {
            Mechanism = SaslMechanisms.ScramType(m.Key),
            Iterations = m.Value,
        })],
    };

    private static DescribeUserScramCredentialsResponse.DescribeUserScramCredentialsResult Error(string user, ErrorCode error, string message) =>
        new() { User = user, ErrorCode = (short)error, ErrorMessage = message };

    protected override DescribeUserScramCredentialsResponse? ErrorResponse(RequestContext context, DescribeUserScramCredentialsRequest request, ErrorCode error) =>
        new() { ErrorCode = (short)error, ErrorMessage = null };
}
