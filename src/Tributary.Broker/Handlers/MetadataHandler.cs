using Tributary.Broker.Cluster;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Metadata;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// Metadata v0-13.
// Behaviour:
// - Cluster mode (etcd): the live brokers with their address on the request's listener, the controller, and each
//   partition's leader, leader epoch, replicas, ISR and offline replicas from the local cache of the cluster metadata.
// - One broker leads every partition with leader epoch 0 and is its only replica.
// - Topics that do not exist are created when auto.create.topics.enable is on and the request allows it; names that
//   break Kafka's rule get INVALID_TOPIC_EXCEPTION instead.
// - A partition whose log cannot be opened (BrokerCore.IsUnavailable) is reported with KAFKA_STORAGE_ERROR and this
//   broker as its offline replica, as Kafka reports a partition on an offline log directory; an auto-creation the
//   disk refuses gets KAFKA_STORAGE_ERROR for the topic.
// - Authorization as Kafka's: a request for every topic leaves out those without DESCRIBE; a topic named without
//   DESCRIBE is TOPIC_AUTHORIZATION_FAILED (by id too, with a null name: ids are not secret). Auto-creation needs
//   CREATE on the cluster or the topic, else TOPIC_AUTHORIZATION_FAILED.
// - Authorized operations, when asked for, are the operations the ACLs allow (all without an authorizer); else
//   "not requested" (-2^31).
// Versions:
// - v0 asks for every topic with an empty list (later versions with null); Kafka 4.0 kept v0-3 for kafka-python
//   (KAFKA-18648). Below v4 auto-creation is always allowed.
// - v8+ topic authorized operations, v8-10 cluster authorized operations; v12+ may name topics by id (a null name
//   below v12 is malformed, as in Kafka: the connection closes).
public sealed class MetadataHandler(BrokerCore broker) : ApiHandler<MetadataRequest, MetadataResponse>(ApiKey.Metadata, 0, 13)
{
    protected override ValueTask<HandlerResult<MetadataResponse>> HandleAsync(RequestContext context, MetadataRequest request, CancellationToken cancellationToken)
    {
        var response = Answer(context, request);
        if (response is not null && context.ApiVersion >= 8)
        {
            if (request.IncludeTopicAuthorizedOperations)
            {
                // As Kafka: every topic answered but those refused for authorization, unknown ones too.
                foreach (var topic in response.Topics.Where(t => t.ErrorCode != (short)ErrorCode.TopicAuthorizationFailed && t.Name is not null))
                {
                    topic.TopicAuthorizedOperations = broker.Authorizer.AuthorizedOperations(context.Connection, AclResourceType.Topic, topic.Name!);
                }
            }

            if (request.IncludeClusterAuthorizedOperations && context.ApiVersion <= 10)
            {
                response.ClusterAuthorizedOperations = broker.Authorizer.AuthorizedOperations(context.Connection, AclResourceType.Cluster, AclBinding.ClusterName);
            }
        }

        return ValueTask.FromResult<HandlerResult<MetadataResponse>>(response);
    }

    private MetadataResponse? Answer(RequestContext context, MetadataRequest request)
    {
        var response = Skeleton(context);
        if (request.Topics is null || (context.ApiVersion == 0 && request.Topics.Count == 0))
        {
            foreach (var topic in broker.Metadata.Topics.OrderBy(t => t.Name, StringComparer.Ordinal))
            {
                if (CanDescribe(context, topic.Name))
                {
                    response.Topics.Add(Describe(topic));
                }
            }

            return response;
        }

        var autoCreate = broker.Config.AutoCreateTopicsEnable && (context.ApiVersion < 4 || request.AllowAutoTopicCreation);
        foreach (var requested in request.Topics)
        {
            if (requested.Name is null)
            {
                // Kafka refuses a topic by id below v12 (InvalidRequestException): the v10-11 response has no null name.
                if (context.ApiVersion < 12)
                {
                    throw new ProtocolException($"Metadata v{context.ApiVersion} names a topic by id; topic ids need v12 or later");
                }

                var byId = broker.Metadata.Find(requested.TopicId);
                response.Topics.Add(byId is null
                    ? new MetadataResponse.MetadataResponseTopic { ErrorCode = (short)ErrorCode.UnknownTopicId, TopicId = requested.TopicId, Name = null, TopicAuthorizedOperations = AuthorizedOperations.Omitted }
                    : CanDescribe(context, byId.Name) ? Describe(byId)
                    : new MetadataResponse.MetadataResponseTopic { ErrorCode = (short)ErrorCode.TopicAuthorizationFailed, TopicId = requested.TopicId, Name = null, TopicAuthorizedOperations = AuthorizedOperations.Omitted });
                continue;
            }

            var topic = broker.Metadata.Find(requested.Name);
            if (!CanDescribe(context, requested.Name))
            {
                response.Topics.Add(Error(requested.Name, ErrorCode.TopicAuthorizationFailed));
                continue;
            }

            if (topic is null && MetadataStore.ValidateTopicName(requested.Name) is not null)
            {
                response.Topics.Add(Error(requested.Name, ErrorCode.InvalidTopicException));
                continue;
            }

            if (topic is null && autoCreate && !CanCreate(context, requested.Name))
            {
                response.Topics.Add(Error(requested.Name, ErrorCode.TopicAuthorizationFailed));
                continue;
            }

            if (topic is null && autoCreate)
            {
                try
                {
                    topic = broker.CreateTopic(requested.Name, broker.Config.NumPartitions, new Dictionary<string, string>()).Topic;
                }
                catch (Exception e) when (BrokerCore.IsStorageFailure(e))
                {
                    response.Topics.Add(Error(requested.Name, ErrorCode.KafkaStorageError));
                    continue;
                }
            }

            response.Topics.Add(topic is null ? Error(requested.Name, ErrorCode.UnknownTopicOrPartition) : Describe(topic));
        }

        return response;
    }

    private bool CanDescribe(RequestContext context, string topic) => broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Topic, topic);

    private bool CanCreate(RequestContext context, string topic) =>
        broker.Authorizer.AuthorizeCluster(context, AclOperation.Create) || broker.Authorizer.Authorize(context, AclOperation.Create, AclResourceType.Topic, topic);

    protected override MetadataResponse? ErrorResponse(RequestContext context, MetadataRequest request, ErrorCode error)
    {
        var response = Skeleton(context);
        foreach (var t in request.Topics ?? [])
        {
            response.Topics.Add(Error(t.Name, error));
        }

        return response;
    }

    // The broker's address on the listener the request came in on, as Kafka answers each listener's clients.
    private MetadataResponse Skeleton(RequestContext context) => broker.Cluster is { } cluster ? ClusterSkeleton(context, cluster) : new()
    {
        Brokers = [new MetadataResponse.MetadataResponseBroker
        {
            NodeId = broker.NodeId,
            Host = broker.AdvertisedFor(context.Connection.ListenerName).Host,
            Port = broker.AdvertisedFor(context.Connection.ListenerName).Port,
            Rack = null,
        }],
        ClusterId = broker.Metadata.ClusterId,
        ControllerId = broker.NodeId,
        ClusterAuthorizedOperations = AuthorizedOperations.Omitted,
    };

    // Cluster mode: every live broker at its address on this request's listener (a broker without that listener is
    // left out, as Kafka does), from the cache of the cluster metadata.
    private static MetadataResponse ClusterSkeleton(RequestContext context, ClusterNode cluster) => new()
    {
        Brokers = [.. cluster.BrokersOn(context.Connection.ListenerName)
            .Select(b => new MetadataResponse.MetadataResponseBroker { NodeId = b.Broker.NodeId, Host = b.Endpoint.Host, Port = b.Endpoint.Port, Rack = b.Broker.Rack })],
        ClusterId = cluster.ClusterId,
        ControllerId = cluster.ControllerId,
        ClusterAuthorizedOperations = AuthorizedOperations.Omitted,
    };

    private MetadataResponse.MetadataResponseTopic Describe(TopicInfo topic)
    {
        var result = new MetadataResponse.MetadataResponseTopic
        {
            Name = topic.Name,
            TopicId = topic.Id,
            IsInternal = topic.IsInternal,
            TopicAuthorizedOperations = AuthorizedOperations.Omitted,
        };
        for (var p = 0; p < topic.PartitionCount; p++)
        {
            if (broker.Cluster is { } cluster && cluster.TryGetPartition(topic.Name, p, out var state))
            {
                result.Partitions.Add(Describe(cluster, state));
                continue;
            }

            // A cluster topic whose partition state the watch has not brought yet has no leader here yet.
            if (broker.Cluster is { } pending && pending.HasTopic(topic.Name))
            {
                result.Partitions.Add(new MetadataResponse.MetadataResponsePartition { ErrorCode = (short)ErrorCode.LeaderNotAvailable, PartitionIndex = p, LeaderId = -1, LeaderEpoch = -1 });
                continue;
            }

            var offline = broker.IsUnavailable(topic, p);
            result.Partitions.Add(new MetadataResponse.MetadataResponsePartition
            {
                ErrorCode = (short)(offline ? ErrorCode.KafkaStorageError : ErrorCode.None),
                PartitionIndex = p,
                LeaderId = broker.NodeId,
                LeaderEpoch = 0,
                ReplicaNodes = [broker.NodeId],
                IsrNodes = offline ? [] : [broker.NodeId],
                OfflineReplicas = offline ? [broker.NodeId] : [],
            });
        }

        return result;
    }

    // A partition as the cluster metadata holds it; without a leader LEADER_NOT_AVAILABLE, as Kafka answers.
    private static MetadataResponse.MetadataResponsePartition Describe(ClusterNode cluster, PartitionState state) => new()
    {
        ErrorCode = (short)(state.Leader == -1 ? ErrorCode.LeaderNotAvailable : ErrorCode.None),
        PartitionIndex = state.Partition,
        LeaderId = state.Leader,
        LeaderEpoch = state.LeaderEpoch,
        ReplicaNodes = [.. state.Replicas],
        IsrNodes = [.. state.Isr],
        OfflineReplicas = [.. state.Replicas.Where(r => !cluster.IsLive(r))],
    };

    private static MetadataResponse.MetadataResponseTopic Error(string? name, ErrorCode error) =>
        new() { ErrorCode = (short)error, Name = name, TopicAuthorizedOperations = AuthorizedOperations.Omitted };
}
