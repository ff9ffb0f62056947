using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// DeleteGroups v0-2.
// Behaviour:
// - Authorization: DELETE on each group, else GROUP_AUTHORIZATION_FAILED for it.
// - Deletes a group with no members together with its committed offsets (tombstones in __consumer_offsets); a share
//   group with its share-partition state (tombstones in __share_group_state).
// - Per group: NON_EMPTY_GROUP while it has members, GROUP_ID_NOT_FOUND when unknown, INVALID_GROUP_ID for an empty
//   name.
// - Cluster mode: a group whose __consumer_offsets partition another broker leads answers NOT_COORDINATOR in its own
//   result (COORDINATOR_LOAD_IN_PROGRESS while that partition loads here); the others are deleted.
public sealed class DeleteGroupsHandler(BrokerCore broker) : ApiHandler<DeleteGroupsRequest, DeleteGroupsResponse>(ApiKey.DeleteGroups, 0, 2)
{
    protected override ValueTask<HandlerResult<DeleteGroupsResponse>> HandleAsync(RequestContext context, DeleteGroupsRequest request, CancellationToken cancellationToken)
    {
        var response = new DeleteGroupsResponse();
        foreach (var groupId in request.GroupsNames.Distinct(StringComparer.Ordinal))
        {
            var error = !broker.Authorizer.Authorize(context, AclOperation.Delete, AclResourceType.Group, groupId) ? ErrorCode.GroupAuthorizationFailed
                : groupId.Length > 0 && CoordinatorErrorOf(groupId) is var notHere and not ErrorCode.None ? notHere
                : broker.ShareGroups.IsShareGroup(groupId) ? broker.ShareGroups.Delete(groupId) : broker.Groups.DeleteGroup(groupId);
            response.Results.Add(new DeleteGroupsResponse.DeletableGroupResult { GroupId = groupId, ErrorCode = (short)error });
        }

        return ValueTask.FromResult<HandlerResult<DeleteGroupsResponse>>(response);
    }

    protected override IEnumerable<string> CoordinatorKeys(DeleteGroupsRequest request) => request.GroupsNames;

    protected override bool AnswersPerKey(RequestContext context, DeleteGroupsRequest request) => true;

    protected override DeleteGroupsResponse? ErrorResponse(RequestContext context, DeleteGroupsRequest request, ErrorCode error) => new()
    {
        Results = [.. request.GroupsNames.Distinct(StringComparer.Ordinal).Select(g => new DeleteGroupsResponse.DeletableGroupResult { GroupId = g, ErrorCode = (short)error })],
    };
}
