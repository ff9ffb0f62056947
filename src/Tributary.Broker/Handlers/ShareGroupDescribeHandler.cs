using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// ShareGroupDescribe v1 (KIP-932).
// Behaviour:
// - Authorization: DESCRIBE on each group (else GROUP_AUTHORIZATION_FAILED) and on every topic its members are
//   assigned (else TOPIC_AUTHORIZATION_FAILED for the whole group).
// - Per share group: state (Empty, Stable), group and assignment epochs, assignor "simple", and each member's epoch,
//   rack, client id and host, subscribed topics and assignment (topic id, name, partitions). A group known only by its
//   share-partition state (after a restart) is Empty with epoch 0.
// - An unknown group, or a group of another type, gets GROUP_ID_NOT_FOUND; an empty id INVALID_GROUP_ID.
// - Cluster mode: a group whose __consumer_offsets partition another broker leads answers NOT_COORDINATOR in its own
//   entry (COORDINATOR_LOAD_IN_PROGRESS while that partition loads here); the others are described.
// - Authorized operations (when asked) are those the ACLs allow.
public sealed class ShareGroupDescribeHandler(BrokerCore broker) : ApiHandler<ShareGroupDescribeRequest, ShareGroupDescribeResponse>(ApiKey.ShareGroupDescribe, 1, 1)
{
    protected override ValueTask<HandlerResult<ShareGroupDescribeResponse>> HandleAsync(RequestContext context, ShareGroupDescribeRequest request, CancellationToken cancellationToken)
    {
        var response = new ShareGroupDescribeResponse();
        foreach (var groupId in request.GroupIds)
        {
            if (groupId.Length > 0 && !broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Group, groupId))
            {
                response.Groups.Add(new ShareGroupDescribeResponse.DescribedGroup { GroupId = groupId, ErrorCode = (short)ErrorCode.GroupAuthorizationFailed, AuthorizedOperations = AuthorizedOperations.Omitted });
                continue;
            }

            if (groupId.Length > 0 && CoordinatorErrorOf(groupId) is var notHere and not ErrorCode.None)
            {
                response.Groups.Add(new ShareGroupDescribeResponse.DescribedGroup { GroupId = groupId, ErrorCode = (short)notHere, AuthorizedOperations = AuthorizedOperations.Omitted });
                continue;
            }

            var described = groupId.Length == 0 ? null : broker.ShareGroups.Describe(groupId);
            if (described is null)
            {
                response.Groups.Add(new ShareGroupDescribeResponse.DescribedGroup
                {
                    GroupId = groupId,
                    ErrorCode = (short)(groupId.Length == 0 ? ErrorCode.InvalidGroupId : ErrorCode.GroupIdNotFound),
                    ErrorMessage = groupId.Length == 0 ? "GroupId can't be empty." : $"Group {groupId} not found.",
                });
                continue;
            }

            var topics = described.Members.SelectMany(m => m.Assignment).Select(t => t.TopicName).Distinct(StringComparer.Ordinal);
            if (!topics.All(t => broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Topic, t)))
            {
                response.Groups.Add(new ShareGroupDescribeResponse.DescribedGroup { GroupId = groupId, ErrorCode = (short)ErrorCode.TopicAuthorizationFailed, AuthorizedOperations = AuthorizedOperations.Omitted });
                continue;
            }

            response.Groups.Add(new ShareGroupDescribeResponse.DescribedGroup
            {
                GroupId = groupId,
                GroupState = described.State,
                GroupEpoch = described.GroupEpoch,
                AssignmentEpoch = described.AssignmentEpoch,
                AssignorName = ShareGroups.SimpleShareAssignor.Name,
                AuthorizedOperations = request.IncludeAuthorizedOperations ? broker.Authorizer.AuthorizedOperations(context.Connection, AclResourceType.Group, groupId) : AuthorizedOperations.Omitted,
                Members = [.. described.Members.Select(m => new ShareGroupDescribeResponse.Member
                {
                    MemberId = m.MemberId,
                    RackId = m.RackId,
                    MemberEpoch = m.MemberEpoch,
                    ClientId = m.ClientId,
                    ClientHost = m.ClientHost,
                    SubscribedTopicNames = [.. m.SubscribedTopicNames],
                    Assignment = new ShareGroupDescribeResponse.Assignment
                    {
                        TopicPartitions = [.. m.Assignment.Select(t => new ShareGroupDescribeResponse.TopicPartitions { TopicId = t.TopicId, TopicName = t.TopicName, Partitions = [.. t.Partitions] })],
                    },
                })],
            });
        }

        return ValueTask.FromResult<HandlerResult<ShareGroupDescribeResponse>>(response);
    }

    protected override IEnumerable<string> CoordinatorKeys(ShareGroupDescribeRequest request) => request.GroupIds;

    protected override bool AnswersPerKey(RequestContext context, ShareGroupDescribeRequest request) => true;

    protected override ShareGroupDescribeResponse? ErrorResponse(RequestContext context, ShareGroupDescribeRequest request, ErrorCode error) => new()
    {
        Groups = [.. request.GroupIds.Select(g => new ShareGroupDescribeResponse.DescribedGroup { GroupId = g, ErrorCode = (short)error })],
    };
}
