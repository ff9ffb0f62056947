using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// LeaveGroup v0-5.
// Behaviour:
// - Authorization: READ on the group, else GROUP_AUTHORIZATION_FAILED.
// - Removing a member of a Stable group starts a rebalance.
// - An unknown group answers UNKNOWN_MEMBER_ID per member (top-level for v0-2), as Kafka does.
// Versions:
// - v0-2 name one member; v3+ a batch, each by member id and/or group instance id (KIP-345: an admin may remove a
//   static member by instance id alone; a member id that is not the instance's current member is FENCED_INSTANCE_ID).
public sealed class LeaveGroupHandler(BrokerCore broker) : ApiHandler<LeaveGroupRequest, LeaveGroupResponse>(ApiKey.LeaveGroup, 0, 5)
{
    protected override ValueTask<HandlerResult<LeaveGroupResponse>> HandleAsync(RequestContext context, LeaveGroupRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Group, request.GroupId))
        {
            return ValueTask.FromResult<HandlerResult<LeaveGroupResponse>>(ErrorResponse(context, request, ErrorCode.GroupAuthorizationFailed)!);
        }

        if (context.ApiVersion < 3)
        {
            var error = broker.Groups.LeaveGroup(request.GroupId, [(request.MemberId, null)])[0];
            return ValueTask.FromResult<HandlerResult<LeaveGroupResponse>>(new LeaveGroupResponse { ErrorCode = (short)error });
        }

        var members = request.Members.Select(m => (m.MemberId, m.GroupInstanceId)).ToList();
        var results = broker.Groups.LeaveGroup(request.GroupId, members);
        return ValueTask.FromResult<HandlerResult<LeaveGroupResponse>>(new LeaveGroupResponse
        {
            Members = [.. members.Select((m, i) => new LeaveGroupResponse.MemberResponse { MemberId = m.MemberId, GroupInstanceId = m.GroupInstanceId, ErrorCode = (short)results[i] })],
        });
    }

    protected override IEnumerable<string> CoordinatorKeys(LeaveGroupRequest request) => [request.GroupId];

    protected override LeaveGroupResponse? ErrorResponse(RequestContext context, LeaveGroupRequest request, ErrorCode error) => new()
    {
        ErrorCode = (short)error,
        Members = context.ApiVersion < 3 ? [] : [.. request.Members.Select(m => new LeaveGroupResponse.MemberResponse { MemberId = m.MemberId, GroupInstanceId = m.GroupInstanceId, ErrorCode = (short)error })],
    };
}
