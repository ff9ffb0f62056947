using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// DescribeGroups v0-5.
// Behaviour:
// - Authorization: DESCRIBE on each group, else GROUP_AUTHORIZATION_FAILED for it. Authorized operations
//   (v3+, when asked) are those the ACLs allow on the group.
// - State, protocol type and members; the selected protocol and each member's metadata and assignment only while the
//   group is Stable, as in Kafka. ClientHost is the member's peer address as Kafka shows it ("/127.0.0.1").
// - An unknown group is described as "Dead" with no error (v0-5 behaviour).
// - Cluster mode: a group whose __consumer_offsets partition another broker leads answers NOT_COORDINATOR in its own
//   entry (COORDINATOR_LOAD_IN_PROGRESS while that partition loads here); the others are described.
// Versions:
// - v3+ authorized operations (when asked): every operation Kafka defines for a group, as there are no ACLs.
// - v4+ member instance ids.
public sealed class DescribeGroupsHandler(BrokerCore broker) : ApiHandler<DescribeGroupsRequest, DescribeGroupsResponse>(ApiKey.DescribeGroups, 0, 5)
{
    protected override ValueTask<HandlerResult<DescribeGroupsResponse>> HandleAsync(RequestContext context, DescribeGroupsRequest request, CancellationToken cancellationToken)
    {
        var response = new DescribeGroupsResponse();
        foreach (var groupId in request.Groups)
        {
            if (!broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Group, groupId))
            {
                response.Groups.Add(new DescribeGroupsResponse.DescribedGroup { GroupId = groupId, ErrorCode = (short)ErrorCode.GroupAuthorizationFailed, AuthorizedOperations = AuthorizedOperations.Omitted });
                continue;
            }

            if (CoordinatorErrorOf(groupId) is var notHere and not ErrorCode.None)
            {
                response.Groups.Add(new DescribeGroupsResponse.DescribedGroup { GroupId = groupId, ErrorCode = (short)notHere, AuthorizedOperations = AuthorizedOperations.Omitted });
                continue;
            }

            var described = broker.Groups.DescribeGroup(groupId);
            response.Groups.Add(new DescribeGroupsResponse.DescribedGroup
            {
                GroupId = groupId,
                GroupState = described.State.ToString(),
                ProtocolType = described.ProtocolType,
                ProtocolData = described.ProtocolName,
                Members = [.. described.Members.Select(m => new DescribeGroupsResponse.DescribedGroupMember
                {
                    MemberId = m.MemberId,
                    GroupInstanceId = m.GroupInstanceId,
                    ClientId = m.ClientId,
                    ClientHost = m.ClientHost,
                    MemberMetadata = m.Metadata,
                    MemberAssignment = m.Assignment,
                })],
                AuthorizedOperations = context.ApiVersion >= 3 && request.IncludeAuthorizedOperations
                    ? broker.Authorizer.AuthorizedOperations(context.Connection, AclResourceType.Group, groupId)
                    : AuthorizedOperations.Omitted,
            });
        }

        return ValueTask.FromResult<HandlerResult<DescribeGroupsResponse>>(response);
    }

    protected override IEnumerable<string> CoordinatorKeys(DescribeGroupsRequest request) => request.Groups;

    protected override bool AnswersPerKey(RequestContext context, DescribeGroupsRequest request) => true;

    protected override DescribeGroupsResponse? ErrorResponse(RequestContext context, DescribeGroupsRequest request, ErrorCode error) => new()
    {
        Groups = [.. request.Groups.Select(g => new DescribeGroupsResponse.DescribedGroup { GroupId = g, ErrorCode = (short)error })],
    };
}
