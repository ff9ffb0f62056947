using Microsoft.Extensions.Logging;
using Tributary.Broker.Cluster;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// DeleteAcls v1-3.
// Behaviour:
// - Needs ALTER on the cluster (else every filter is CLUSTER_AUTHORIZATION_FAILED); without an authorizer
//   SECURITY_DISABLED.
// - Each filter (as DescribeAcls reads it; an UNKNOWN value is INVALID_REQUEST for that filter) deletes the ACLs it
//   matches and lists them; an ACL two filters match is deleted, and listed, once. One durable change for all.
// - Cluster mode: one compare-and-swap on the cluster's ACLs in etcd; etcd not committing it in time
//   (ClusterNode.MetadataChangeTimeoutMsMax) is REQUEST_TIMED_OUT for every valid filter, and nothing is deleted.
// - Limit (Tributary's): more than FiltersMax filters refuse the whole request with INVALID_REQUEST (logged).
// Versions:
// - v0 is gone from Kafka 4; v2 is the first flexible version.
public sealed partial class DeleteAclsHandler(BrokerCore broker) : ApiHandler<DeleteAclsRequest, DeleteAclsResponse>(ApiKey.DeleteAcls, 1, 3)
{
    /// <summary>Filters one DeleteAcls may hold (each is matched against every stored ACL).</summary>
    public const int FiltersMax = 1000;

    private readonly ILogger _logger = broker.LoggerFactory.CreateLogger<DeleteAclsHandler>();

    protected override ValueTask<HandlerResult<DeleteAclsResponse>> HandleAsync(RequestContext context, DeleteAclsRequest request, CancellationToken cancellationToken)
    {
        var authorizer = broker.Authorizer;
        if (!authorizer.Enabled)
        {
            return ValueTask.FromResult<HandlerResult<DeleteAclsResponse>>(Error(request, ErrorCode.SecurityDisabled, "No Authorizer is configured."));
        }

        if (!authorizer.AuthorizeCluster(context, AclOperation.Alter))
        {
            return ValueTask.FromResult<HandlerResult<DeleteAclsResponse>>(Error(request, ErrorCode.ClusterAuthorizationFailed, null));
        }

        if (request.Filters.Count > FiltersMax)
        {
            LogRefused(_logger, request.Filters.Count, context.Connection.Principal, FiltersMax);
            return ValueTask.FromResult<HandlerResult<DeleteAclsResponse>>(Error(request, ErrorCode.InvalidRequest, $"at most {FiltersMax} filters"));
        }

        var filters = request.Filters.Select(f => new AclBindingFilter((AclResourceType)f.ResourceTypeFilter, f.ResourceNameFilter, (AclPatternType)f.PatternTypeFilter,
            f.PrincipalFilter, f.HostFilter, (AclOperation)f.Operation, (AclPermissionType)f.PermissionType)).ToList();
        var valid = filters.Where(f => f.Validate() is null).ToList();
        IReadOnlyList<IReadOnlyList<AclBinding>> deleted;
        try
        {
            using var etcdWait = ClusterNode.ChangeTimeout(0, cancellationToken);
            deleted = authorizer.Delete(valid, etcdWait.Token);
        }
        catch (ClusterTimeoutException e)
        {
            // Cluster mode: etcd did not commit the change, so nothing was deleted; clients retry.
            return ValueTask.FromResult<HandlerResult<DeleteAclsResponse>>(new DeleteAclsResponse
            {
                FilterResults = [.. filters.Select(f => new DeleteAclsResponse.DeleteAclsFilterResult
                {
                    ErrorCode = (short)(f.Validate() is null ? ErrorCode.RequestTimedOut : ErrorCode.InvalidRequest),
                    ErrorMessage = f.Validate() ?? e.Message,
                })],
            });
        }

        var response = new DeleteAclsResponse();
        var next = 0;
        foreach (var filter in filters)
        {
            if (filter.Validate() is { } invalid)
            {
                response.FilterResults.Add(new DeleteAclsResponse.DeleteAclsFilterResult { ErrorCode = (short)ErrorCode.InvalidRequest, ErrorMessage = invalid });
                continue;
            }

            response.FilterResults.Add(new DeleteAclsResponse.DeleteAclsFilterResult
            {
                ErrorMessage = null,
                MatchingAcls = [.. deleted[next++].Select(a => new DeleteAclsResponse.DeleteAclsMatchingAcl
                {
                    ErrorMessage = null,
                    ResourceType = (sbyte)a.ResourceType,
                    ResourceName = a.ResourceName,
                    PatternType = (sbyte)a.PatternType,
                    Principal = a.Principal,
                    Host = a.Host,
                    Operation = (sbyte)a.Operation,
                    PermissionType = (sbyte)a.Permission,
                })],
            });
        }

        return ValueTask.FromResult<HandlerResult<DeleteAclsResponse>>(response);
    }

    private static DeleteAclsResponse Error(DeleteAclsRequest request, ErrorCode error, string? message) => new()
    {
        FilterResults = [.. request.Filters.Select(_ => new DeleteAclsResponse.DeleteAclsFilterResult { ErrorCode = (short)error, ErrorMessage = message })],
    };

    protected override DeleteAclsResponse? ErrorResponse(RequestContext context, DeleteAclsRequest request, ErrorCode error) => Error(request, error, null);

    [LoggerMessage(EventId = 1224, Level = LogLevel.Warning, Message = "DeleteAcls with {Filters} filters from {Principal} refused: at most {FiltersMax}")]
    private static partial void LogRefused(ILogger logger, int filters, string principal, int filtersMax);
}
