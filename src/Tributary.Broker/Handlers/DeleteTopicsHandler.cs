using Tributary.Broker.Cluster;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Metadata;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// DeleteTopics v0-6.
// Behaviour:
// - Authorization: DELETE on each topic (by id also DESCRIBE), else TOPIC_AUTHORIZATION_FAILED.
// - Unknown names get UNKNOWN_TOPIC_OR_PARTITION, unknown ids UNKNOWN_TOPIC_ID; a topic named twice in one request
//   gets INVALID_REQUEST, once. With delete.topic.enable=false every topic gets TOPIC_DELETION_DISABLED.
// - The topic's metadata and logs are gone when the response is sent. A metadata write the disk refuses answers
//   KAFKA_STORAGE_ERROR and leaves the topic as it was. In cluster mode timeout_ms bounds the wait for etcd (as in
//   CreateTopics): a deletion etcd has not committed by then gets REQUEST_TIMED_OUT and may still happen later.
// - controller_mutation_rate (KIP-599): a deleted topic counts its partitions; while the client's quota is used up a
//   topic gets THROTTLING_QUOTA_EXCEEDED (v5+; older versions are deleted and throttled).
// Versions:
// - v0-5 name topics in topic_names; v6 in topics, each by name or by id (both or neither: INVALID_REQUEST), and
//   answers with the topic's name and id, however it was named.
public sealed class DeleteTopicsHandler(BrokerCore broker) : ApiHandler<DeleteTopicsRequest, DeleteTopicsResponse>(ApiKey.DeleteTopics, 0, 6)
{
    protected override ValueTask<HandlerResult<DeleteTopicsResponse>> HandleAsync(RequestContext context, DeleteTopicsRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var requested = Requested(request, version);
        if (!broker.Config.DeleteTopicEnable)
        {
            return ValueTask.FromResult<HandlerResult<DeleteTopicsResponse>>(ErrorResponse(context, request, ErrorCode.TopicDeletionDisabled));
        }

        var response = new DeleteTopicsResponse();
        var counts = requested.CountBy(r => r.Name is null ? r.Id.ToString() : "name:" + r.Name).ToDictionary();
        var reported = new HashSet<(string?, Guid)>();
        var quota = ControllerMutations.For(broker, context, strictFromVersion: 5);
        using var etcdWait = ClusterNode.ChangeTimeout(request.TimeoutMs, cancellationToken);
        foreach (var (name, id) in requested)
        {
            if (counts[name is null ? id.ToString() : "name:" + name] > 1)
            {
                if (reported.Add((name, id)))
                {
                    response.Responses.Add(Result(version, name, id, ErrorCode.InvalidRequest, "topic appears more than once in the request"));
                }

                continue;
            }

            if (version >= 6 && (name is null) == (id == Guid.Empty))
            {
                response.Responses.Add(Result(version, name, id, ErrorCode.InvalidRequest, "name a topic by name or by id, not both or neither"));
                continue;
            }

            // Under the topic lock, so a topic named by id cannot be replaced by a new one of the same name
            // between the lookup and the deletion.
            TopicInfo? topic;
            var throttled = false;
            var denied = ErrorCode.None;
            try
            {
                topic = broker.WithTopicLock(() =>
                {
                    var found = name is null ? broker.Metadata.Find(id) : broker.Metadata.Find(name);
                    denied = Denied(context, name, found);
                    throttled = denied == ErrorCode.None && found is not null && !quota.TryRecord(found.PartitionCount);
                    return denied == ErrorCode.None && !throttled && found is not null && broker.DeleteTopic(found.Name, etcdWait.Token) ? found : null;
                });
            }
            catch (ClusterTimeoutException e)
            {
                response.Responses.Add(Result(version, name, id, ErrorCode.RequestTimedOut, e.Message));
                continue;
            }
            catch (Exception e) when (BrokerCore.IsStorageFailure(e))
            {
                // The metadata could not be written: the topic is still there, whole, and a retry may succeed.
                response.Responses.Add(Result(version, name, id, ErrorCode.KafkaStorageError, e.Message));
                continue;
            }

            if (denied != ErrorCode.None)
            {
                response.Responses.Add(Result(version, name, id, denied, null));
                continue;
            }

            if (throttled)
            {
                response.Responses.Add(Result(version, name, id, ErrorCode.ThrottlingQuotaExceeded, ControllerMutations.ExceededMessage));
                continue;
            }

            if (topic is null)
            {
                var error = name is null ? ErrorCode.UnknownTopicId : ErrorCode.UnknownTopicOrPartition;
                response.Responses.Add(Result(version, name, id, error, null));
                continue;
            }

            response.Responses.Add(Result(version, topic.Name, topic.Id, ErrorCode.None, null));
        }

        response.ThrottleTimeMs = quota.ThrottleTimeMs;
        return ValueTask.FromResult<HandlerResult<DeleteTopicsResponse>>(response);
    }

    // As Kafka: by name, DELETE on the name (whether or not it exists); by id, DESCRIBE then DELETE on the topic found.
    private ErrorCode Denied(RequestContext context, string? name, TopicInfo? found)
    {
        var topicName = name ?? found?.Name;
        if (topicName is null)
        {
            return ErrorCode.None;
        }

        if (name is null && !broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Topic, topicName))
        {
            return ErrorCode.TopicAuthorizationFailed;
        }

        return broker.Authorizer.Authorize(context, AclOperation.Delete, AclResourceType.Topic, topicName) ? ErrorCode.None : ErrorCode.TopicAuthorizationFailed;
    }

    private static List<(string? Name, Guid Id)> Requested(DeleteTopicsRequest request, short version) => version >= 6
        ? [.. request.Topics.Select(t => (t.Name, t.TopicId))]
        : [.. request.TopicNames.Select(n => ((string?)n, Guid.Empty))];

    // topic_id exists from v6 and error_message from v5: older versions cannot carry them.
    private static DeleteTopicsResponse.DeletableTopicResult Result(short version, string? name, Guid id, ErrorCode error, string? message) => new()
    {
        Name = name,
        TopicId = version >= 6 ? id : Guid.Empty,
        ErrorCode = (short)error,
        ErrorMessage = version >= 5 ? message : null,
    };

    protected override DeleteTopicsResponse? ErrorResponse(RequestContext context, DeleteTopicsRequest request, ErrorCode error) => new()
    {
        Responses = [.. Requested(request, context.ApiVersion).Distinct().Select(r => Result(context.ApiVersion, r.Name, r.Id, error, null))],
    };
}
