using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// Heartbeat v0-4, classic protocol.
// Behaviour:
// - Authorization: READ on the group, else GROUP_AUTHORIZATION_FAILED.
// - Keeps the member's session alive (group.min/max.session.timeout.ms bound the timeout at JoinGroup); a member that
//   misses its session timeout is removed and the group rebalances.
// - REBALANCE_IN_PROGRESS while the group waits for members to rejoin, which is how members learn to rejoin;
//   UNKNOWN_MEMBER_ID (also for an instance id no member has), ILLEGAL_GENERATION and FENCED_INSTANCE_ID (the
//   instance id belongs to another member id) as in Kafka.
public sealed class HeartbeatHandler(BrokerCore broker) : ApiHandler<HeartbeatRequest, HeartbeatResponse>(ApiKey.Heartbeat, 0, 4)
{
    protected override ValueTask<HandlerResult<HeartbeatResponse>> HandleAsync(RequestContext context, HeartbeatRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Group, request.GroupId))
        {
            return ValueTask.FromResult<HandlerResult<HeartbeatResponse>>(ErrorResponse(context, request, ErrorCode.GroupAuthorizationFailed)!);
        }

        var error = broker.Groups.Heartbeat(request.GroupId, request.MemberId, request.GenerationId, request.GroupInstanceId);
        return ValueTask.FromResult<HandlerResult<HeartbeatResponse>>(new HeartbeatResponse { ErrorCode = (short)error });
    }

    protected override IEnumerable<string> CoordinatorKeys(HeartbeatRequest request) => [request.GroupId];

    protected override HeartbeatResponse? ErrorResponse(RequestContext context, HeartbeatRequest request, ErrorCode error) => new() { ErrorCode = (short)error };
}
