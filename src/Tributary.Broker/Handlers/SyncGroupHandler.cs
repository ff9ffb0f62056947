using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// SyncGroup v0-5, classic protocol.
// Behaviour:
// - Authorization: READ on the group, else GROUP_AUTHORIZATION_FAILED.
// - After a rebalance the leader sends every member's assignment; each member's SyncGroup parks until the leader's
//   arrives (members the leader leaves out get an empty assignment), or answers REBALANCE_IN_PROGRESS when a new
//   rebalance starts first. In a Stable group it returns the member's current assignment.
// - Members that never send SyncGroup within the rebalance timeout are removed, starting another rebalance, as in
//   Kafka.
// - Errors: UNKNOWN_MEMBER_ID (unknown group or member, or an instance id no member has), ILLEGAL_GENERATION,
//   FENCED_INSTANCE_ID (the instance id belongs to another member id).
// Versions:
// - v5: INCONSISTENT_GROUP_PROTOCOL when the protocol type or name differs from the group's.
public sealed class SyncGroupHandler(BrokerCore broker) : ApiHandler<SyncGroupRequest, SyncGroupResponse>(ApiKey.SyncGroup, 0, 5)
{
    protected override async ValueTask<HandlerResult<SyncGroupResponse>> HandleAsync(RequestContext context, SyncGroupRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Group, request.GroupId))
        {
            return ErrorResponse(context, request, ErrorCode.GroupAuthorizationFailed)!;
        }

        var assignments = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var a in request.Assignments)
        {
            assignments[a.MemberId] = a.Assignment;
        }

        var result = await UnlessStoppingAsync(broker.Groups.SyncGroupAsync(new(
            request.GroupId, request.GenerationId, request.MemberId, request.GroupInstanceId, request.ProtocolType, request.ProtocolName, assignments)),
            context, cancellationToken).ConfigureAwait(false);
        if (result is null)
        {
            return ErrorResponse(context, request, ErrorCode.NotCoordinator); // the server is stopping (see JoinGroup)
        }

        return new SyncGroupResponse
        {
            ErrorCode = (short)result.Error,
            ProtocolType = result.ProtocolType,
            ProtocolName = result.ProtocolName,
            Assignment = result.Assignment,
        };
    }

    protected override IEnumerable<string> CoordinatorKeys(SyncGroupRequest request) => [request.GroupId];

    protected override SyncGroupResponse? ErrorResponse(RequestContext context, SyncGroupRequest request, ErrorCode error) => new() { ErrorCode = (short)error };
}
