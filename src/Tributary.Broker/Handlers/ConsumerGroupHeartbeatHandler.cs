using Tributary.Broker.Dispatch;
using Tributary.Broker.Groups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// ConsumerGroupHeartbeat v0-1 (KIP-848: the broker computes the assignment).
// Behaviour:
// - Authorization: READ on the group (else GROUP_AUTHORIZATION_FAILED); DESCRIBE on every subscribed topic
//   name (else TOPIC_AUTHORIZATION_FAILED). Topics a regex matches are not filtered (a deviation: Kafka leaves out
//   those without DESCRIBE).
// - Epoch 0 joins, -1 leaves, -2 leaves a static member for now: it keeps its assignment for the session timeout, and
//   rejoining with epoch 0 and the same instance id takes it over (UNRELEASED_INSTANCE_ID while still in use).
// - Server assignors "uniform" (default) and "range"; others get UNSUPPORTED_ASSIGNOR. The group epoch bumps on
//   membership, subscription, assignor or subscribed-partition-count changes (checked on every heartbeat, so
//   CreatePartitions reaches members); members revoke before others receive (see ConsumerGroup).
// - The response carries the assignment on a join, on a full request (TopicPartitions set) and whenever it changed.
// - Errors: UNKNOWN_MEMBER_ID, FENCED_MEMBER_EPOCH (neither the current epoch nor, with owned partitions within the
//   assignment, the previous one), GROUP_ID_NOT_FOUND (a classic group with members), GROUP_MAX_SIZE_REACHED,
//   INVALID_REQUEST for Kafka's request checks, INVALID_REGULAR_EXPRESSION for a regex that does not compile.
// - SubscribedTopicRegex (v1): matched against whole topic names, internal topics excluded; "" clears it. It is
//   resolved again after topics are created or deleted, so a new matching topic is assigned at the next heartbeat.
// Versions:
// - v0: the broker generates the member id when none is sent; v1: the client chooses it (empty: INVALID_REQUEST).
// Deviations from Kafka:
// - No online migration between classic and consumer groups; rack ids are stored and described but not used by the
//   assignors. SubscribedTopicRegex uses .NET's non-backtracking engine, not RE2/J (see TopicRegex), and is not yet
//   written to __consumer_offsets: after a restart a member's regex is empty until it sends it again.
// - An unknown group with a non-zero epoch gets UNKNOWN_MEMBER_ID (Kafka: GROUP_ID_NOT_FOUND), so its members rejoin.
public sealed class ConsumerGroupHeartbeatHandler(BrokerCore broker) : ApiHandler<ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse>(ApiKey.ConsumerGroupHeartbeat, 0, 1)
{
    protected override ValueTask<HandlerResult<ConsumerGroupHeartbeatResponse>> HandleAsync(RequestContext context, ConsumerGroupHeartbeatRequest request, CancellationToken cancellationToken)
    {
        if (broker.Authorizer.HeartbeatDenied(context, request.GroupId, request.SubscribedTopicNames) is var denied and not ErrorCode.None)
        {
            return ValueTask.FromResult<HandlerResult<ConsumerGroupHeartbeatResponse>>(ErrorResponse(context, request, denied)!);
        }

        var parameters = new ConsumerGroupHeartbeatParameters(
            request.GroupId,
            request.MemberId,
            request.MemberEpoch,
            request.InstanceId,
            request.RackId,
            request.RebalanceTimeoutMs,
            request.SubscribedTopicNames,
            context.ApiVersion >= 1 ? request.SubscribedTopicRegex : null,
            request.ServerAssignor,
            request.TopicPartitions?.Select(t => (t.TopicId, (IReadOnlyList<int>)t.Partitions)).ToList(),
            context.ClientId ?? "",
            context.ClientHost,
            ClientChoosesMemberId: context.ApiVersion >= 1);
        var result = broker.Groups.ConsumerGroupHeartbeat(parameters);
        var response = new ConsumerGroupHeartbeatResponse
        {
            ErrorCode = (short)result.Error,
            ErrorMessage = result.ErrorMessage,
            MemberId = result.MemberId,
            MemberEpoch = result.MemberEpoch,
            HeartbeatIntervalMs = result.HeartbeatIntervalMs,
        };
        if (result.Assignment is not null)
        {
            response.Assignment = new ConsumerGroupHeartbeatResponse.AssignmentData
            {
                TopicPartitions = [.. result.Assignment.Select(t => new ConsumerGroupHeartbeatResponse.TopicPartitions { TopicId = t.TopicId, Partitions = [.. t.Partitions] })],
            };
        }

        return ValueTask.FromResult<HandlerResult<ConsumerGroupHeartbeatResponse>>(response);
    }

    protected override IEnumerable<string> CoordinatorKeys(ConsumerGroupHeartbeatRequest request) => [request.GroupId];

    protected override ConsumerGroupHeartbeatResponse? ErrorResponse(RequestContext context, ConsumerGroupHeartbeatRequest request, ErrorCode error) => new()
    {
        ErrorCode = (short)error,
        MemberId = request.MemberId,
        MemberEpoch = request.MemberEpoch,
    };
}
