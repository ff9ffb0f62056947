using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// FindCoordinator v0-5.
// Behaviour:
// - Authorization: DESCRIBE on the group (GROUP_AUTHORIZATION_FAILED) or the transactional id
//   (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), per key.
// - This single node coordinates every group (key type 0) and every transactional id (key type 1), so the answer is
//   always this node's advertised address. Other key types (2 = share groups, v6+) answer INVALID_REQUEST.
// Versions:
// - v4+ batch several keys (KIP-699), one answer per key.
public sealed class FindCoordinatorHandler(BrokerCore broker) : ApiHandler<FindCoordinatorRequest, FindCoordinatorResponse>(ApiKey.FindCoordinator, 0, 5)
{
    private const sbyte GroupKeyType = 0;
    private const sbyte TransactionKeyType = 1;

    protected override ValueTask<HandlerResult<FindCoordinatorResponse>> HandleAsync(RequestContext context, FindCoordinatorRequest request, CancellationToken cancellationToken)
    {
        var supported = request.KeyType is GroupKeyType or TransactionKeyType;
        var (host, port) = broker.AdvertisedFor(context.Connection.ListenerName);
        if (context.ApiVersion >= 4)
        {
            return ValueTask.FromResult<HandlerResult<FindCoordinatorResponse>>(new FindCoordinatorResponse
            {
                Coordinators = [.. request.CoordinatorKeys.Select(key => !supported
                    ? new FindCoordinatorResponse.Coordinator { Key = key, NodeId = -1, ErrorCode = (short)ErrorCode.InvalidRequest, ErrorMessage = $"key type {request.KeyType} is not supported" }
                    : Denied(context, request.KeyType, key) is var denied and not ErrorCode.None
                    ? new FindCoordinatorResponse.Coordinator { Key = key, NodeId = -1, ErrorCode = (short)denied, ErrorMessage = null }
                    : new FindCoordinatorResponse.Coordinator { Key = key, NodeId = broker.NodeId, Host = host, Port = port, ErrorMessage = null })],
            });
        }

        if (supported && Denied(context, request.KeyType, request.Key) is var error and not ErrorCode.None)
        {
            return ValueTask.FromResult<HandlerResult<FindCoordinatorResponse>>(ErrorResponse(context, request, error)!);
        }

        return ValueTask.FromResult<HandlerResult<FindCoordinatorResponse>>(supported
            ? new FindCoordinatorResponse { NodeId = broker.NodeId, Host = host, Port = port, ErrorMessage = null }
            : new FindCoordinatorResponse { NodeId = -1, ErrorCode = (short)ErrorCode.InvalidRequest, ErrorMessage = $"key type {request.KeyType} is not supported" });
    }

    private ErrorCode Denied(RequestContext context, sbyte keyType, string key) => keyType == GroupKeyType
        ? broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Group, key) ? ErrorCode.None : ErrorCode.GroupAuthorizationFailed
        : broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.TransactionalId, key) ? ErrorCode.None : ErrorCode.TransactionalIdAuthorizationFailed;

    protected override FindCoordinatorResponse? ErrorResponse(RequestContext context, FindCoordinatorRequest request, ErrorCode error) => context.ApiVersion >= 4
        ? new FindCoordinatorResponse { Coordinators = [.. request.CoordinatorKeys.Select(key => new FindCoordinatorResponse.Coordinator { Key = key, NodeId = -1, ErrorCode = (short)error, ErrorMessage = null })] }
        : new FindCoordinatorResponse { NodeId = -1, ErrorCode = (short)error, ErrorMessage = null };
}
