using Tributary.Broker.Dispatch;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// ListGroups v0-5. Every group this coordinator holds (that is, every group: one coordinator for all). v4+ filter by
// state, case-insensitively (an empty filter lists all) and return each group's state; v5+ filter by type and return
// it: every group here is "classic", so a types filter without "classic" lists nothing.
public sealed class ListGroupsHandler(BrokerCore broker) : ApiHandler<ListGroupsRequest, ListGroupsResponse>(ApiKey.ListGroups, 0, 5)
{
    private const string ClassicType = "classic";

    protected override ValueTask<ListGroupsResponse?> HandleAsync(RequestContext context, ListGroupsRequest request, CancellationToken cancellationToken)
    {
        var states = context.ApiVersion >= 4 ? request.StatesFilter : [];
        var types = context.ApiVersion >= 5 ? request.TypesFilter : [];
        var response = new ListGroupsResponse();
        if (types.Count > 0 && !types.Contains(ClassicType, StringComparer.OrdinalIgnoreCase))
        {
            return ValueTask.FromResult<ListGroupsResponse?>(response);
        }

        foreach (var group in broker.Groups.ListGroups().OrderBy(g => g.GroupId, StringComparer.Ordinal))
        {
            var state = group.State.ToString();
            if (states.Count > 0 && !states.Contains(state, StringComparer.OrdinalIgnoreCase))
            {
                continue;
            }

            response.Groups.Add(new ListGroupsResponse.ListedGroup { GroupId = group.GroupId, ProtocolType = group.ProtocolType, GroupState = state, GroupType = ClassicType });
        }

        return ValueTask.FromResult<ListGroupsResponse?>(response);
    }

    protected override ListGroupsResponse? ErrorResponse(RequestContext context, ListGroupsRequest request, ErrorCode error) => new() { ErrorCode = (short)error };
}
