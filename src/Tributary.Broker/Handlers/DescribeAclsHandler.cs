using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// DescribeAcls v1-3.
// Behaviour:
// - Needs DESCRIBE on the cluster (else CLUSTER_AUTHORIZATION_FAILED); without an authorizer SECURITY_DISABLED.
// - The filter as Kafka's AclBindingFilter: ANY or null matches all; pattern type ANY with a name selects that exact
//   name, MATCH every ACL that applies to the named resource (literal, "*", prefixes). An UNKNOWN value in the filter
//   is INVALID_REQUEST. ACLs come grouped by resource pattern.
// Versions:
// - v0 is gone from Kafka 4; v2 is the first flexible version.
public sealed class DescribeAclsHandler(BrokerCore broker) : ApiHandler<DescribeAclsRequest, DescribeAclsResponse>(ApiKey.DescribeAcls, 1, 3)
{
    protected override ValueTask<HandlerResult<DescribeAclsResponse>> HandleAsync(RequestContext context, DescribeAclsRequest request, CancellationToken cancellationToken)
    {
        var authorizer = broker.Authorizer;
        if (!authorizer.Enabled)
        {
            return ValueTask.FromResult<HandlerResult<DescribeAclsResponse>>(Error(ErrorCode.SecurityDisabled, "No Authorizer is configured."));
        }

        if (!authorizer.AuthorizeCluster(context, AclOperation.Describe))
        {
            return ValueTask.FromResult<HandlerResult<DescribeAclsResponse>>(Error(ErrorCode.ClusterAuthorizationFailed, null));
        }

        var filter = new AclBindingFilter((AclResourceType)request.ResourceTypeFilter, request.ResourceNameFilter, (AclPatternType)request.PatternTypeFilter,
            request.PrincipalFilter, request.HostFilter, (AclOperation)request.Operation, (AclPermissionType)request.PermissionType);
        if (filter.Validate() is { } invalid)
        {
            return ValueTask.FromResult<HandlerResult<DescribeAclsResponse>>(Error(ErrorCode.InvalidRequest, invalid));
        }

        var resources = authorizer.Describe(filter)
            .GroupBy(a => (a.ResourceType, a.ResourceName, a.PatternType))
            .Select(g => new DescribeAclsResponse.DescribeAclsResource
            {
                ResourceType = (sbyte)g.Key.ResourceType,
                ResourceName = g.Key.ResourceName,
                PatternType = (sbyte)g.Key.PatternType,
                Acls = [.. g.Select(a => new DescribeAclsResponse.AclDescription { Principal = a.Principal, Host = a.Host, Operation = (sbyte)a.Operation, PermissionType = (sbyte)a.Permission })],
            });
        return ValueTask.FromResult<HandlerResult<DescribeAclsResponse>>(new DescribeAclsResponse { ErrorMessage = null, Resources = [.. resources] });
    }

    private static DescribeAclsResponse Error(ErrorCode error, string? message) => new() { ErrorCode = (short)error, ErrorMessage = message };

    protected override DescribeAclsResponse? ErrorResponse(RequestContext context, DescribeAclsRequest request, ErrorCode error) => Error(error, null);
}
