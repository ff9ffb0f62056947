using Tributary.Broker.Dispatch;
using Tributary.Broker.Groups;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// JoinGroup v0-9, classic protocol.
// Behaviour:
// - Authorization: READ on the group, else GROUP_AUTHORIZATION_FAILED.
// - The request parks until the rebalance completes: when every known member has rejoined, or after the largest
//   rebalance timeout among the members (dynamic members that did not rejoin are then removed).
// - The leader's response carries every member's metadata for the protocol chosen by vote.
// - The first rebalance of an Empty group waits group.initial.rebalance.delay.ms (3000; each newcomer extends it, up
//   to the rebalance timeout), as Kafka's InitialDelayedJoin.
// - The member's ClientHost is the peer address ("/127.0.0.1").
// - Partitions added to a subscribed topic reach classic groups through the leader's metadata refresh, which starts a
//   rebalance by rejoining.
// Versions:
// - v4+: a first join without a member id gets MEMBER_ID_REQUIRED with a generated id (KIP-394).
// - v5+: static members (group.instance.id, KIP-345) get their id at once and replace the instance's previous member
//   (FENCED_INSTANCE_ID from then on); in a Stable group whose protocol choice does not change, the current
//   generation without a rebalance.
// - v9: a restarted static leader gets the members and skipAssignment (KIP-814); below v9 it is told the previous
//   leader id, so it acts as a follower, as Kafka does.
public sealed class JoinGroupHandler(BrokerCore broker) : ApiHandler<JoinGroupRequest, JoinGroupResponse>(ApiKey.JoinGroup, 0, 9)
{
    protected override async ValueTask<HandlerResult<JoinGroupResponse>> HandleAsync(RequestContext context, JoinGroupRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Group, request.GroupId))
        {
            return ErrorResponse(context, request, ErrorCode.GroupAuthorizationFailed)!;
        }

        var parameters = new JoinGroupParameters(
            request.GroupId,
            request.MemberId,
            request.GroupInstanceId,
            context.ClientId ?? "",
            context.ClientHost,
            request.SessionTimeoutMs,
            request.RebalanceTimeoutMs,
            request.ProtocolType,
            [.. request.Protocols.Select(p => (p.Name, p.Metadata))],
            RequireKnownMemberId: context.ApiVersion >= 4,
            SupportsSkipAssignment: context.ApiVersion >= 9);
        var result = await UnlessStoppingAsync(broker.Groups.JoinGroupAsync(parameters), context, cancellationToken).ConfigureAwait(false);
        if (result is null)
        {
            // The server is stopping: like a Kafka coordinator unloading its groups, it answers the waiting member
            // NOT_COORDINATOR, and the client finds the group's coordinator again.
            return ErrorResponse(context, request, ErrorCode.NotCoordinator);
        }

        var version = context.ApiVersion;
        return new JoinGroupResponse
        {
            ErrorCode = (short)result.Error,
            GenerationId = result.GenerationId,
            ProtocolType = result.ProtocolType,
            ProtocolName = version >= 7 ? result.ProtocolName : result.ProtocolName ?? "",
            Leader = result.Leader,
            SkipAssignment = version >= 9 && result.SkipAssignment,
            MemberId = result.MemberId,
            Members = [.. (result.Members ?? []).Select(m => new JoinGroupResponse.JoinGroupResponseMember { MemberId = m.MemberId, GroupInstanceId = m.GroupInstanceId, Metadata = m.Metadata })],
        };
    }

    protected override IEnumerable<string> CoordinatorKeys(JoinGroupRequest request) => [request.GroupId];

    protected override JoinGroupResponse? ErrorResponse(RequestContext context, JoinGroupRequest request, ErrorCode error) => new()
    {
        ErrorCode = (short)error,
        ProtocolName = context.ApiVersion >= 7 ? null : "",
        MemberId = request.MemberId,
    };
}
