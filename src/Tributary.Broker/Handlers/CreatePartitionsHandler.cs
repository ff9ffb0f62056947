using Tributary.Broker.Cluster;
using Tributary.Broker.Config;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Quotas;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// CreatePartitions v0-3.
// Behaviour:
// - Authorization: ALTER on each topic, else TOPIC_AUTHORIZATION_FAILED.
// - Grows a topic to count partitions: count must exceed the current count and stay within PartitionsPerTopicMax
//   (INVALID_PARTITIONS, with a message naming both); the topic must exist (UNKNOWN_TOPIC_OR_PARTITION).
// - Assignments, when given, need one entry per new partition, each naming only this broker
//   (INVALID_REPLICA_ASSIGNMENT). A topic named twice in one request gets INVALID_REQUEST, once.
// - validate_only checks and changes nothing; the new partitions exist when the response is sent. In cluster mode
//   timeout_ms bounds the wait for etcd (as in CreateTopics): a change etcd has not committed by then gets
//   REQUEST_TIMED_OUT and may still be applied later.
// - Records already in a topic keep their partitions: as in Kafka, keys may now hash elsewhere.
// - controller_mutation_rate (KIP-599): the new partitions count; while the client's quota is used up a topic gets
//   THROTTLING_QUOTA_EXCEEDED (v3+; older versions grow and are throttled).
public sealed class CreatePartitionsHandler(BrokerCore broker) : ApiHandler<CreatePartitionsRequest, CreatePartitionsResponse>(ApiKey.CreatePartitions, 0, 3)
{
    protected override ValueTask<HandlerResult<CreatePartitionsResponse>> HandleAsync(RequestContext context, CreatePartitionsRequest request, CancellationToken cancellationToken)
    {
        var response = new CreatePartitionsResponse();
        var counts = request.Topics.CountBy(t => t.Name, StringComparer.Ordinal).ToDictionary(StringComparer.Ordinal);
        var reported = new HashSet<string>(StringComparer.Ordinal);
        var quota = ControllerMutations.For(broker, context, strictFromVersion: 3);
        using var etcdWait = ClusterNode.ChangeTimeout(request.TimeoutMs, cancellationToken);
        foreach (var requested in request.Topics)
        {
            if (counts[requested.Name] > 1)
            {
                if (reported.Add(requested.Name))
                {
                    response.Results.Add(Result(requested.Name, ErrorCode.InvalidRequest, $"topic '{requested.Name}' appears more than once in the request"));
                }

                continue;
            }

            if (!broker.Authorizer.Authorize(context, AclOperation.Alter, AclResourceType.Topic, requested.Name))
            {
                response.Results.Add(Result(requested.Name, ErrorCode.TopicAuthorizationFailed, null));
                continue;
            }

            // Checked and grown under the topic lock: two concurrent grows of one topic must not both start from
            // the old count, nor a grow undo a concurrent config change or deletion.
            var (error, message) = broker.WithTopicLock(() => Grow(requested, request.ValidateOnly, quota, etcdWait.Token));
            response.Results.Add(Result(requested.Name, error, message));
        }

        response.ThrottleTimeMs = quota.ThrottleTimeMs;

        return ValueTask.FromResult<HandlerResult<CreatePartitionsResponse>>(response);
    }

    private (ErrorCode Error, string? Message) Grow(CreatePartitionsRequest.CreatePartitionsTopic requested, bool validateOnly, ControllerMutationQuota quota,
        CancellationToken etcdWait)
    {
        var topic = broker.Metadata.Find(requested.Name);
        if (topic is null)
        {
            return (ErrorCode.UnknownTopicOrPartition, $"topic '{requested.Name}' does not exist");
        }

        var current = topic.PartitionCount;
        if (requested.Count <= current)
        {
            return (ErrorCode.InvalidPartitions, requested.Count == current
                ? $"topic already has {current} partitions"
                : $"topic has {current} partitions, more than the requested {requested.Count}: partitions cannot be removed");
        }

        if (requested.Count > BrokerConfig.PartitionsPerTopicMax)
        {
            return (ErrorCode.InvalidPartitions, $"{requested.Count} partitions exceed the limit of {BrokerConfig.PartitionsPerTopicMax}");
        }

        if (requested.Assignments is { } assignments)
        {
            var added = requested.Count - current;
            if (assignments.Count != added)
            {
                return (ErrorCode.InvalidReplicaAssignment, $"adding {added} partitions but {assignments.Count} assignments given");
            }

            if (assignments.FirstOrDefault(a => a.BrokerIds is not [var only] || only != broker.NodeId) is { } bad)
            {
                return (ErrorCode.InvalidReplicaAssignment, $"assignment [{string.Join(", ", bad.BrokerIds)}] names a broker other than {broker.NodeId}, the only one");
            }
        }

        if (!validateOnly)
        {
            if (!quota.TryRecord(requested.Count - current))
            {
                return (ErrorCode.ThrottlingQuotaExceeded, ControllerMutations.ExceededMessage);
            }

            try
            {
                broker.AddPartitions(topic, requested.Count, etcdWait);
            }
            catch (ClusterTimeoutException e)
            {
                return (ErrorCode.RequestTimedOut, e.Message);
            }
            catch (Exception e) when (BrokerCore.IsStorageFailure(e))
            {
                return (ErrorCode.KafkaStorageError, e.Message);
            }
        }

        return (ErrorCode.None, null);
    }

    private static CreatePartitionsResponse.CreatePartitionsTopicResult Result(string name, ErrorCode error, string? message) =>
        new() { Name = name, ErrorCode = (short)error, ErrorMessage = message };

    protected override CreatePartitionsResponse? ErrorResponse(RequestContext context, CreatePartitionsRequest request, ErrorCode error) => new()
    {
        Results = [.. request.Topics.Select(t => t.Name).Distinct(StringComparer.Ordinal).Select(name => Result(name, error, null))],
    };
}
