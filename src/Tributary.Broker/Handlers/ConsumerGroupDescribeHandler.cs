using Tributary.Broker.Dispatch;
using Tributary.Broker.Groups;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// ConsumerGroupDescribe v0 (KIP-848).
// Behaviour:
// - Authorization: DESCRIBE on each group (else GROUP_AUTHORIZATION_FAILED) and on every topic its members
//   are assigned (else TOPIC_AUTHORIZATION_FAILED). Authorized operations, when asked, are those the ACLs allow.
// - Per KIP-848 group: state (Empty, Reconciling, Stable), group epoch, assignment epoch, the assignor in use, and each
//   member's epoch, client id, instance and rack ids, subscribed topic names and regex (null when none), current and target assignment (topic
//   id, name, partitions). ClientHost is the member's peer address ("/127.0.0.1").
// - An unknown group, or a classic group of that id, gets GROUP_ID_NOT_FOUND, as in Kafka; an empty id
//   INVALID_GROUP_ID.
// - Cluster mode: a group whose __consumer_offsets partition another broker leads answers NOT_COORDINATOR in its own
//   entry (COORDINATOR_LOAD_IN_PROGRESS while that partition loads here); the others are described.
// - Authorized operations (when asked) are every operation Kafka defines for a group: there are no ACLs.
public sealed class ConsumerGroupDescribeHandler(BrokerCore broker) : ApiHandler<ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse>(ApiKey.ConsumerGroupDescribe, 0, 0)
{
    protected override ValueTask<HandlerResult<ConsumerGroupDescribeResponse>> HandleAsync(RequestContext context, ConsumerGroupDescribeRequest request, CancellationToken cancellationToken)
    {
        var response = new ConsumerGroupDescribeResponse();
        foreach (var groupId in request.GroupIds)
        {
            if (groupId.Length > 0 && !broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Group, groupId))
            {
                response.Groups.Add(new ConsumerGroupDescribeResponse.DescribedGroup { GroupId = groupId, ErrorCode = (short)ErrorCode.GroupAuthorizationFailed, AuthorizedOperations = AuthorizedOperations.Omitted });
                continue;
            }

            if (groupId.Length > 0 && CoordinatorErrorOf(groupId) is var notHere and not ErrorCode.None)
            {
                response.Groups.Add(new ConsumerGroupDescribeResponse.DescribedGroup { GroupId = groupId, ErrorCode = (short)notHere, AuthorizedOperations = AuthorizedOperations.Omitted });
                continue;
            }

            var described = groupId.Length == 0 ? null : broker.Groups.DescribeConsumerGroup(groupId);
            if (described is null)
            {
                response.Groups.Add(new ConsumerGroupDescribeResponse.DescribedGroup
                {
                    GroupId = groupId,
                    ErrorCode = (short)(groupId.Length == 0 ? ErrorCode.InvalidGroupId : ErrorCode.GroupIdNotFound),
                    ErrorMessage = groupId.Length == 0 ? "GroupId can't be empty." : $"Group {groupId} not found.",
                });
                continue;
            }

            // Kafka refuses the whole group when a member's assignment holds a topic the caller may not DESCRIBE.
            var topics = described.Members.SelectMany(m => m.Assignment.Concat(m.TargetAssignment)).Select(t => t.TopicName).Distinct(StringComparer.Ordinal);
            if (!topics.All(t => broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Topic, t)))
            {
                response.Groups.Add(new ConsumerGroupDescribeResponse.DescribedGroup { GroupId = groupId, ErrorCode = (short)ErrorCode.TopicAuthorizationFailed, AuthorizedOperations = AuthorizedOperations.Omitted });
                continue;
            }

            response.Groups.Add(new ConsumerGroupDescribeResponse.DescribedGroup
            {
                GroupId = groupId,
                GroupState = described.State.ToString(),
                GroupEpoch = described.GroupEpoch,
                AssignmentEpoch = described.AssignmentEpoch,
                AssignorName = described.AssignorName,
                AuthorizedOperations = request.IncludeAuthorizedOperations ? broker.Authorizer.AuthorizedOperations(context.Connection, AclResourceType.Group, groupId) : AuthorizedOperations.Omitted,
                Members = [.. described.Members.Select(m => new ConsumerGroupDescribeResponse.Member
                {
                    MemberId = m.MemberId,
                    InstanceId = m.InstanceId,
                    RackId = m.RackId,
                    MemberEpoch = m.MemberEpoch,
                    ClientId = m.ClientId,
                    ClientHost = m.ClientHost,
                    SubscribedTopicNames = [.. m.SubscribedTopicNames],
                    SubscribedTopicRegex = m.SubscribedTopicRegex,
                    Assignment = ToAssignment(m.Assignment),
                    TargetAssignment = ToAssignment(m.TargetAssignment),
                })],
            });
        }

        return ValueTask.FromResult<HandlerResult<ConsumerGroupDescribeResponse>>(response);
    }

    protected override IEnumerable<string> CoordinatorKeys(ConsumerGroupDescribeRequest request) => request.GroupIds;

    protected override bool AnswersPerKey(RequestContext context, ConsumerGroupDescribeRequest request) => true;

    protected override ConsumerGroupDescribeResponse? ErrorResponse(RequestContext context, ConsumerGroupDescribeRequest request, ErrorCode error) => new()
    {
        Groups = [.. request.GroupIds.Select(g => new ConsumerGroupDescribeResponse.DescribedGroup { GroupId = g, ErrorCode = (short)error })],
    };

    private static ConsumerGroupDescribeResponse.Assignment ToAssignment(IReadOnlyList<(Guid TopicId, string TopicName, int[] Partitions)> partitions) => new()
    {
        TopicPartitions = [.. partitions.Select(t => new ConsumerGroupDescribeResponse.TopicPartitions { TopicId = t.TopicId, TopicName = t.TopicName, Partitions = [.. t.Partitions] })],
    };
}
