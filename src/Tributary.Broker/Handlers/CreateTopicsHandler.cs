using Tributary.Broker.Cluster;
using Tributary.Broker.Config;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Metadata;
using Tributary.Broker.Quotas;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// CreateTopics v0-7.
// Behaviour, per topic:
// - Authorization: CREATE on the cluster or on the topic, else TOPIC_AUTHORIZATION_FAILED. Configs are answered
//   without checking DESCRIBE_CONFIGS (a deviation: Kafka leaves them out with an error without it).
// - A legal name (INVALID_TOPIC_EXCEPTION, also for a name that collides with an existing one once '.' and '_' are
//   treated alike), not taken (TOPIC_ALREADY_EXISTS).
// - Partitions from 1 to PartitionsPerTopicMax (-1 = num.partitions; else INVALID_PARTITIONS); replication factor 1
//   (-1 = 1; else INVALID_REPLICATION_FACTOR: there is one broker); valid configs (INVALID_CONFIG).
// - Cluster mode (etcd): replication factor up to the live brokers (-1 = default.replication.factor), replicas placed
//   round-robin and rack-aware by this broker (ReplicaAssigner) or given per partition (distinct live brokers); the
//   topic and its partitions' states are written to etcd at once, whichever broker takes the request.
// - Manual assignments need -1 for both counts (INVALID_REQUEST), number partitions 0..n-1 and name only this broker
//   (INVALID_REPLICA_ASSIGNMENT).
// - A name given twice in one request fails with INVALID_REQUEST, once.
// - validate_only checks everything and creates nothing.
// - A disk that refuses the topic's metadata or logs gets KAFKA_STORAGE_ERROR, with nothing of the topic left.
// - Creation is complete when the response is sent. In cluster mode timeout_ms bounds the wait for etcd to commit the
//   request's topics (at most ClusterNode.MetadataChangeTimeoutMsMax; 0 or less: that maximum); a topic etcd has not
//   committed by then (no quorum) gets REQUEST_TIMED_OUT, retriable, and may still be created later, as in Kafka.
// - controller_mutation_rate (KIP-599): each created topic counts its partitions; while the client's quota is used
//   up a topic gets THROTTLING_QUOTA_EXCEEDED (v6+; older versions are created and throttled), and the response
//   carries the time until the quota has room again.
// Versions:
// - v0 has no validate_only; v5+ answer with the partition count, replication factor and effective configs; v7 with
//   the topic id (zero for validate_only, where no topic exists).
public sealed class CreateTopicsHandler(BrokerCore broker) : ApiHandler<CreateTopicsRequest, CreateTopicsResponse>(ApiKey.CreateTopics, 0, 7)
{
    private const short ReplicationFactor = 1;

    protected override ValueTask<HandlerResult<CreateTopicsResponse>> HandleAsync(RequestContext context, CreateTopicsRequest request, CancellationToken cancellationToken)
    {
        var response = new CreateTopicsResponse();
        var counts = request.Topics.CountBy(t => t.Name, StringComparer.Ordinal).ToDictionary(StringComparer.Ordinal);
        var reported = new HashSet<string>(StringComparer.Ordinal);
        var quota = ControllerMutations.For(broker, context, strictFromVersion: 6);
        using var etcdWait = ClusterNode.ChangeTimeout(request.TimeoutMs, cancellationToken);
        foreach (var topic in request.Topics)
        {
            if (counts[topic.Name] > 1)
            {
                if (reported.Add(topic.Name))
                {
                    response.Topics.Add(Failure(topic.Name, ErrorCode.InvalidRequest, $"topic '{topic.Name}' appears more than once in the request"));
                }

                continue;
            }

            if (!broker.Authorizer.AuthorizeCluster(context, AclOperation.Create) && !broker.Authorizer.Authorize(context, AclOperation.Create, AclResourceType.Topic, topic.Name))
            {
                response.Topics.Add(Failure(topic.Name, ErrorCode.TopicAuthorizationFailed, "Authorization failed."));
                continue;
            }

            // Under the topic lock so the existence and collision checks still hold when the topic is created.
            response.Topics.Add(broker.WithTopicLock(() => Create(topic, request.ValidateOnly, context.ApiVersion, quota, etcdWait.Token)));
        }

        response.ThrottleTimeMs = quota.ThrottleTimeMs;

        return ValueTask.FromResult<HandlerResult<CreateTopicsResponse>>(response);
    }

    private CreateTopicsResponse.CreatableTopicResult Create(CreateTopicsRequest.CreatableTopic requested, bool validateOnly, short version, ControllerMutationQuota quota,
        CancellationToken etcdWait)
    {
        var name = requested.Name;
        if (MetadataStore.ValidateTopicName(name) is { } invalidName)
        {
            return Failure(name, ErrorCode.InvalidTopicException, invalidName);
        }

        if (broker.Metadata.Find(name) is not null)
        {
            return Failure(name, ErrorCode.TopicAlreadyExists, $"topic '{name}' already exists");
        }

        // Kafka's rule: '.' and '_' map to the same metric names, so "a.b" and "a_b" cannot both exist.
        var normalized = name.Replace('.', '_');
        if (broker.Metadata.Topics.FirstOrDefault(t => t.Name.Replace('.', '_') == normalized) is { } collision)
        {
            return Failure(name, ErrorCode.InvalidTopicException, $"topic '{name}' collides with existing topic '{collision.Name}'");
        }

        var (partitions, factor, replicas, partitionError, partitionMessage) = PartitionCount(requested);
        if (partitionError != ErrorCode.None)
        {
            return Failure(name, partitionError, partitionMessage);
        }

        var (configs, configError) = Configs(requested.Configs);
        if (configError is not null)
        {
            return Failure(name, ErrorCode.InvalidConfig, configError);
        }

        var topicId = Guid.Empty;
        if (!validateOnly)
        {
            if (!quota.TryRecord(partitions))
            {
                return Failure(name, ErrorCode.ThrottlingQuotaExceeded, ControllerMutations.ExceededMessage);
            }

            try
            {
                var (created, isNew) = replicas is not null
                    ? broker.CreateTopic(name, replicas, configs, etcdWait)
                    : broker.CreateTopic(name, partitions, configs, factor, etcdWait);
                if (!isNew)
                {
                    // Cluster mode: another broker created it since this one's mirror was read.
                    return Failure(name, ErrorCode.TopicAlreadyExists, $"topic '{name}' already exists");
                }

                topicId = created.Id;
            }
            catch (ClusterTimeoutException e)
            {
                return Failure(name, ErrorCode.RequestTimedOut, e.Message);
            }
            catch (Exception e) when (BrokerCore.IsStorageFailure(e))
            {
                // Nothing of the topic is left (BrokerCore.CreateTopic is all or nothing).
                return Failure(name, ErrorCode.KafkaStorageError, e.Message);
            }
        }

        var result = new CreateTopicsResponse.CreatableTopicResult { Name = name, ErrorMessage = null };
        if (version >= 5)
        {
            result.NumPartitions = partitions;
            result.ReplicationFactor = factor;
            result.Configs = [.. EffectiveConfigs.ForTopic(configs, broker.Config).Select(e => new CreateTopicsResponse.CreatableTopicConfigs
            {
                Name = e.Name,
                Value = e.Value,
                ReadOnly = e.ReadOnly,
                ConfigSource = e.Source,
                IsSensitive = e.IsSensitive,
            })];
        }

        if (version >= 7)
        {
            result.TopicId = topicId;
        }

        return result;
    }

    // The partition count, replication factor and, in cluster mode with manual assignments, the replicas.
    private (int Partitions, short Factor, int[][]? Replicas, ErrorCode Error, string? Message) PartitionCount(CreateTopicsRequest.CreatableTopic requested)
    {
        if (requested.Assignments.Count > 0)
        {
            if (requested.NumPartitions != -1 || requested.ReplicationFactor != -1)
            {
                return (0, 0, null, ErrorCode.InvalidRequest, "num_partitions and replication_factor must be -1 when assignments are given");
            }

            var indexes = requested.Assignments.Select(a => a.PartitionIndex).Order().ToList();
            if (!indexes.SequenceEqual(Enumerable.Range(0, indexes.Count)))
            {
                return (0, 0, null, ErrorCode.InvalidReplicaAssignment, "assigned partitions must be numbered 0 to n-1, each once");
            }

            if (broker.Cluster is { } cluster)
            {
                return ClusterAssignments(cluster, requested.Assignments);
            }

            if (requested.Assignments.FirstOrDefault(a => a.BrokerIds is not [var only] || only != broker.NodeId) is { } bad)
            {
                return (0, 0, null, ErrorCode.InvalidReplicaAssignment, $"partition {bad.PartitionIndex} is assigned to [{string.Join(", ", bad.BrokerIds)}]; the only broker is {broker.NodeId}");
            }

            return indexes.Count > BrokerConfig.PartitionsPerTopicMax
                ? (0, 0, null, ErrorCode.InvalidPartitions, $"{indexes.Count} partitions exceed the limit of {BrokerConfig.PartitionsPerTopicMax}")
                : (indexes.Count, ReplicationFactor, null, ErrorCode.None, null);
        }

        var partitions = requested.NumPartitions == -1 ? broker.Config.NumPartitions : requested.NumPartitions;
        if (partitions < 1 || partitions > BrokerConfig.PartitionsPerTopicMax)
        {
            return (0, 0, null, ErrorCode.InvalidPartitions, $"number of partitions must be between 1 and {BrokerConfig.PartitionsPerTopicMax} (or -1 for the default), got {requested.NumPartitions}");
        }

        if (broker.Cluster is { } clusterNode)
        {
            // As Kafka: up to the registered (live) brokers; -1 takes default.replication.factor.
            var factor = requested.ReplicationFactor == -1 ? broker.Config.DefaultReplicationFactor : requested.ReplicationFactor;
            var live = clusterNode.LiveBrokers.Count;
            return factor >= 1 && factor <= live
                ? (partitions, (short)factor, null, ErrorCode.None, null)
                : (0, 0, null, ErrorCode.InvalidReplicationFactor, $"Unable to replicate the partition {factor} time(s): the target replication factor of {factor} cannot be reached because only {live} broker(s) are registered");
        }

        if (requested.ReplicationFactor is not (-1 or ReplicationFactor))
        {
            return (0, 0, null, ErrorCode.InvalidReplicationFactor, $"replication factor {requested.ReplicationFactor} cannot be reached: this cluster has one broker");
        }

        return (partitions, ReplicationFactor, null, ErrorCode.None, null);
    }

    // Cluster mode: every partition the same number of distinct, live brokers, as Kafka requires.
    private static (int Partitions, short Factor, int[][]? Replicas, ErrorCode Error, string? Message) ClusterAssignments(ClusterNode cluster, List<CreateTopicsRequest.CreatableReplicaAssignment> assignments)
    {
        var replicas = assignments.OrderBy(a => a.PartitionIndex).Select(a => a.BrokerIds.ToArray()).ToArray();
        if (replicas.FirstOrDefault(r => r.Length == 0 || r.Length != replicas[0].Length || r.Distinct().Count() != r.Length) is { } uneven)
        {
            return (0, 0, null, ErrorCode.InvalidReplicaAssignment, $"replicas [{string.Join(", ", uneven)}]: every partition needs the same number of distinct brokers");
        }

        if (replicas.SelectMany(r => r).FirstOrDefault(id => !cluster.IsLive(id), -1) is var unknown and not -1)
        {
            return (0, 0, null, ErrorCode.InvalidReplicaAssignment, $"broker {unknown} is not registered in the cluster");
        }

        return replicas.Length > BrokerConfig.PartitionsPerTopicMax
            ? (0, 0, null, ErrorCode.InvalidPartitions, $"{replicas.Length} partitions exceed the limit of {BrokerConfig.PartitionsPerTopicMax}")
            : (replicas.Length, (short)replicas[0].Length, replicas, ErrorCode.None, null);
    }

    private static (Dictionary<string, string> Configs, string? Error) Configs(List<CreateTopicsRequest.CreatableTopicConfig> requested)
    {
        var configs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var config in requested)
        {
            if (config.Value is null)
            {
                return (configs, $"null value not supported for topic config {config.Name}");
            }

            if (!configs.TryAdd(config.Name, config.Value))
            {
                return (configs, $"topic config {config.Name} is given more than once");
            }
        }

        return (configs, TopicConfigs.Validate(configs));
    }

    private static CreateTopicsResponse.CreatableTopicResult Failure(string name, ErrorCode error, string? message) =>
        new() { Name = name, ErrorCode = (short)error, ErrorMessage = message, NumPartitions = -1, ReplicationFactor = -1 };

    protected override CreateTopicsResponse? ErrorResponse(RequestContext context, CreateTopicsRequest request, ErrorCode error) => new()
    {
        Topics = [.. request.Topics.Select(t => t.Name).Distinct(StringComparer.Ordinal).Select(name => Failure(name, error, null))],
    };
}
