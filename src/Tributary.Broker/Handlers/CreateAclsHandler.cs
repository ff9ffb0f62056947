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
//   INVALID_REQUEST; the valid ones are stored together in one durable metadata snapshot. An ACL that already exists
//   is answered as created.
// Versions:
// - v0 (literal only) is gone from Kafka 4; v2 is the first flexible version.
public sealed class CreateAclsHandler(BrokerCore broker) : ApiHandler<CreateAclsRequest, CreateAclsResponse>(ApiKey.CreateAcls, 1, 3)
{
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

        var bindings = request.Creations.Select(c => new AclBinding((AclResourceType)c.ResourceType, c.ResourceName, (AclPatternType)c.ResourcePatternType,
            c.Principal, c.Host, (AclOperation)c.Operation, (AclPermissionType)c.PermissionType)).ToList();
        var errors = authorizer.Create(bindings);
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
}
