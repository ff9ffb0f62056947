using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// ListGroups v0-5.
// Behaviour:
// - Authorization: DESCRIBE on the cluster lists every group; without it, only the groups with DESCRIBE.
// - The groups this broker coordinates: every group on a single node; in cluster mode those of the __consumer_offsets
//   partitions it leads, so a client lists every broker, as with Kafka. While one of those partitions loads, the answer
//   is COORDINATOR_LOAD_IN_PROGRESS with no groups, as Kafka's (the client retries).
// Versions:
// - v4+ filter by state, case-insensitively (an empty filter lists all), and return each group's state.
// - v5+ filter by type and return it: "classic" for JoinGroup groups, "consumer" (protocol type "consumer" too) for
//   KIP-848 ConsumerGroupHeartbeat groups, "share" (protocol type "share") for KIP-932 share groups.
public sealed class ListGroupsHandler(BrokerCore broker) : ApiHandler<ListGroupsRequest, ListGroupsResponse>(ApiKey.ListGroups, 0, 5)
{
    private const string ClassicType = "classic";
    private const string ConsumerType = "consumer";
    private const string ShareType = "share";

    protected override ValueTask<HandlerResult<ListGroupsResponse>> HandleAsync(RequestContext context, ListGroupsRequest request, CancellationToken cancellationToken)
    {
        if (broker.Groups.LoadingAny)
        {
            return ValueTask.FromResult<HandlerResult<ListGroupsResponse>>(ErrorResponse(context, request, ErrorCode.CoordinatorLoadInProgress)!);
        }

        var states = context.ApiVersion >= 4 ? request.StatesFilter : [];
        var types = context.ApiVersion >= 5 ? request.TypesFilter : [];
        var response = new ListGroupsResponse();
        var classicGroups = types.Count > 0 && !types.Contains(ClassicType, StringComparer.OrdinalIgnoreCase) ? [] : broker.Groups.ListGroups();
        foreach (var group in classicGroups.OrderBy(g => g.GroupId, StringComparer.Ordinal))
        {
            var state = group.State.ToString();
            if (states.Count > 0 && !states.Contains(state, StringComparer.OrdinalIgnoreCase))
            {
                continue;
            }

            response.Groups.Add(new ListGroupsResponse.ListedGroup { GroupId = group.GroupId, ProtocolType = group.ProtocolType, GroupState = state, GroupType = ClassicType });
        }

        if (types.Count == 0 || types.Contains(ConsumerType, StringComparer.OrdinalIgnoreCase))
        {
            foreach (var (groupId, consumerState) in broker.Groups.ListConsumerGroups().OrderBy(g => g.GroupId, StringComparer.Ordinal))
            {
                var state = consumerState.ToString();
                if (states.Count == 0 || states.Contains(state, StringComparer.OrdinalIgnoreCase))
                {
                    response.Groups.Add(new ListGroupsResponse.ListedGroup { GroupId = groupId, ProtocolType = ConsumerType, GroupState = state, GroupType = ConsumerType });
                }
            }
        }

        if (types.Count == 0 || types.Contains(ShareType, StringComparer.OrdinalIgnoreCase))
        {
            foreach (var (groupId, state) in broker.ShareGroups.List().OrderBy(g => g.GroupId, StringComparer.Ordinal))
            {
                if (states.Count == 0 || states.Contains(state, StringComparer.OrdinalIgnoreCase))
                {
                    response.Groups.Add(new ListGroupsResponse.ListedGroup { GroupId = groupId, ProtocolType = ShareType, GroupState = state, GroupType = ShareType });
                }
            }
        }

        // Without DESCRIBE on the cluster, only the groups the connection may DESCRIBE are listed.
        if (!broker.Authorizer.AuthorizeCluster(context, AclOperation.Describe))
        {
            response.Groups.RemoveAll(g => !broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Group, g.GroupId));
        }

        return ValueTask.FromResult<HandlerResult<ListGroupsResponse>>(response);
    }

    protected override ListGroupsResponse? ErrorResponse(RequestContext context, ListGroupsRequest request, ErrorCode error) => new() { ErrorCode = (short)error };
}
