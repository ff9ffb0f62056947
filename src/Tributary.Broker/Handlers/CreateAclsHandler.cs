using Microsoft.Extensions.Logging;
using Tributary.Broker.Cluster;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// CreateAcls v1-3.
// Behaviour:
// - Needs ALTER on the cluster (else every creation is CLUSTER_AUTHORIZATION_FAILED); without an authorizer every
//   creation is SECURITY_DISABLED, as Kafka answers.
// - Each creation is checked as Kafka checks it (a concrete resource type, operation and permission, LITERAL or
//   PREFIXED, a non-empty name, kafka-cluster as the only cluster name, a Type:name principal) and refused alone with
//   INVALID_REQUEST; the valid ones are stored together in one durable change. An ACL that already exists is
//   answered as created.
// - Cluster mode: the change is one compare-and-swap on the cluster's ACLs in etcd (ClusterNode.Security.cs), seen by
//   every broker; etcd not committing it within the request's timeout (at most ClusterNode.MetadataChangeTimeoutMsMax)
//   is REQUEST_TIMED_OUT for every valid creation, and nothing is stored. ACLs past ClusterNode.AclsBytesMax are
//   INVALID_REQUEST.
// - Limits (Tributary's; Kafka has none): more than CreationsMax creations, or a name, principal or host longer than
//   FieldCharsMax, refuse the whole request with INVALID_REQUEST (logged), and nothing is stored.
// Versions:
// - v0 (literal only) is gone from Kafka 4; v2 is the first flexible version.
public sealed partial class CreateAclsHandler(BrokerCore broker) : ApiHandler<CreateAclsRequest, CreateAclsResponse>(ApiKey.CreateAcls, 1, 3)
{
    /// <summary>Creations one CreateAcls may hold.</summary>
    public const int CreationsMax = 1000;

    /// <summary>Characters of a creation's resource name, principal or host.</summary>
    public const int FieldCharsMax = 4096;

    private readonly ILogger _logger = broker.LoggerFactory.CreateLogger<CreateAclsHandler>();

    protected override ValueTask<HandlerResult<CreateAclsResponse>> HandleAsync(RequestContext context, CreateAclsRequest request, CancellationToken cancellationToken)
    {
        var authorizer = broker.Authorizer;
        if (!authorizer.Enabled)
        {
            return ValueTask.FromResult<HandlerResult<CreateAclsResponse>>(Error(request, ErrorCode.SecurityDisabled, "No Authorizer is configured."));
        }

        if (!authorizer.AuthorizeCluster(context, AclOperation.Alter))
        {
            return ValueTask.FromResult<HandlerResult<CreateAclsResponse>>(Error(request, ErrorCode.ClusterAuthorizationFailed, null));
        }

        if (request.Creations.Count > CreationsMax
            || request.Creations.Any(c => c.ResourceName.Length > FieldCharsMax || c.Principal.Length > FieldCharsMax || c.Host.Length > FieldCharsMax))
        {
            LogRefused(_logger, request.Creations.Count, context.Connection.Principal, CreationsMax, FieldCharsMax);
            return ValueTask.FromResult<HandlerResult<CreateAclsResponse>>(Error(request, ErrorCode.InvalidRequest,
                $"at most {CreationsMax} creations, each name, principal and host at most {FieldCharsMax} characters"));
        }

        var bindings = request.Creations.Select(c => new AclBinding((AclResourceType)c.ResourceType, c.ResourceName, (AclPatternType)c.ResourcePatternType,
            c.Principal, c.Host, (AclOperation)c.Operation, (AclPermissionType)c.PermissionType)).ToList();
        IReadOnlyList<string?> errors;
        try
        {
            using var etcdWait = ClusterNode.ChangeTimeout(0, cancellationToken);
            errors = authorizer.Create(bindings, etcdWait.Token);
        }
        catch (ClusterTimeoutException e)
        {
            // Cluster mode: etcd did not commit the change, so nothing of it is stored; clients retry.
            return ValueTask.FromResult<HandlerResult<CreateAclsResponse>>(new CreateAclsResponse
            {
                Results = [.. bindings.Select(b => b.Validate() is { } invalid
                    ? new CreateAclsResponse.AclCreationResult { ErrorCode = (short)ErrorCode.InvalidRequest, ErrorMessage = invalid }
                    : new CreateAclsResponse.AclCreationResult { ErrorCode = (short)ErrorCode.RequestTimedOut, ErrorMessage = e.Message })],
            });
        }

        return ValueTask.FromResult<HandlerResult<CreateAclsResponse>>(new CreateAclsResponse
        {
            Results = [.. errors.Select(e => new CreateAclsResponse.AclCreationResult { ErrorCode = (short)(e is null ? ErrorCode.None : ErrorCode.InvalidRequest), ErrorMessage = e })],
        });
    }

    private static CreateAclsResponse Error(CreateAclsRequest request, ErrorCode error, string? message) => new()
    {
        Results = [.. request.Creations.Select(_ => new CreateAclsResponse.AclCreationResult { ErrorCode = (short)error, ErrorMessage = message })],
    };

    protected override CreateAclsResponse? ErrorResponse(RequestContext context, CreateAclsRequest request, ErrorCode error) => Error(request, error, null);

    [LoggerMessage(EventId = 1223, Level = LogLevel.Warning, Message = "CreateAcls with {Creations} creations from {Principal} refused: at most {CreationsMax}, each field at most {FieldCharsMax} characters")]
    private static partial void LogRefused(ILogger logger, int creations, string principal, int creationsMax, int fieldCharsMax);
}
