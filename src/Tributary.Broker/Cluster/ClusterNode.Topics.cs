using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Tributary.Broker.Cluster;

// Topic changes any broker takes (CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs): written to etcd as
// transactions on the topic key's revision, then mirrored locally at once (the watch brings them to the others).
// The broker that takes a CreateTopics places the replicas itself, as the controller would, from its cache of live
// brokers; each new partition starts with its first replica as leader and every replica in sync (they are empty).
public sealed partial class ClusterNode
{
    // Partition states written per transaction: etcd refuses more than 128 operations in one (--max-txn-ops).
    private const int PartitionsPerTxnMax = 100;

    /// <summary>Longest a CreateTopics, DeleteTopics, CreatePartitions or config change waits for etcd to commit it.</summary>
    public const int MetadataChangeTimeoutMsMax = 5000;

    // 1 while metadata changes time out in etcd (an episode is logged once).
    private int _changesTimingOut;

    /// <summary>
    /// Creates a topic in the cluster with <paramref name="replicas"/> per partition (null: placed here on
    /// <paramref name="replicationFactor"/> live brokers), or returns the existing one of that name.
    /// </summary>
    public async Task<(ClusterTopic Topic, bool Created)> CreateTopicAsync(string name, int partitions, IReadOnlyDictionary<string, string> configs,
        int replicationFactor, int[][]? replicas, CancellationToken cancellationToken)
    {
        replicas ??= ReplicaAssigner.Assign(LiveBrokers, 0, partitions, replicationFactor, Random.Shared.Next(Math.Max(1, _brokers.Count)));
        var topic = new ClusterTopic(name, Guid.NewGuid(), partitions, new Dictionary<string, string>(configs, StringComparer.Ordinal));
        var topicKey = ByteString.CopyFromUtf8(_keys.Topic(name));
        var txn = new TxnRequest
        {
            Compare = { new Compare { Key = topicKey, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 } },
            Success = { new RequestOp { RequestPut = new PutRequest { Key = topicKey, Value = Json(topic) } } },
            Failure = { new RequestOp { RequestRange = new RangeRequest { Key = topicKey } } },
        };
        txn.Success.AddRange(NewStates(topic, 0, Math.Min(partitions, PartitionsPerTxnMax), replicas));
        var response = await TxnAsync(txn, cancellationToken).ConfigureAwait(false);
        if (!response.Succeeded)
        {
            return (JsonSerializer.Deserialize(response.Responses[0].ResponseRange.Kvs[0].Value.Span, ClusterJson.Default.ClusterTopic)!, false);
        }

        await WriteRemainingStatesAsync(topic, PartitionsPerTxnMax, replicas, cancellationToken).ConfigureAwait(false);
        return (topic, true);
    }

    /// <summary>Deletes a topic and its partition states; false when the cluster has no such topic.</summary>
    public async Task<ClusterTopic?> DeleteTopicAsync(string name, CancellationToken cancellationToken)
    {
        if (!_topics.TryGetValue(name, out var current))
        {
            return null;
        }

        var topicKey = ByteString.CopyFromUtf8(_keys.Topic(name));
        var prefix = _keys.Partitions(name);
        var response = await TxnAsync(new TxnRequest
        {
            Compare = { new Compare { Key = topicKey, Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = current.ModRevision } },
            Success =
            {
                new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = topicKey } },
                new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = ByteString.CopyFromUtf8(prefix), RangeEnd = ClusterKeys.RangeEnd(prefix) } },
            },
        }, cancellationToken).ConfigureAwait(false);
        if (!response.Succeeded)
        {
            throw new ClusterUnavailableException($"topic '{name}' changed in the cluster while it was being deleted; try again");
        }

        _topics.TryRemove(name, out _);
        return current.Value;
    }

    /// <summary>Grows a topic to <paramref name="newCount"/> partitions, the new ones placed like the topic's first.</summary>
    public async Task<ClusterTopic> AddPartitionsAsync(string name, int newCount, CancellationToken cancellationToken)
    {
        var current = _topics.TryGetValue(name, out var versioned) ? versioned : throw new ArgumentException($"topic '{name}' is not in the cluster", nameof(name));
        var factor = TryGetPartition(name, 0, out var first) ? first.Replicas.Length : _core.Config.DefaultReplicationFactor;
        var brokers = LiveBrokers;
        var placed = ReplicaAssigner.Assign(brokers, current.Value.PartitionCount, newCount - current.Value.PartitionCount, Math.Min(factor, brokers.Count), Random.Shared.Next(brokers.Count));
        var replicas = new int[newCount][];
        placed.CopyTo(replicas, current.Value.PartitionCount);
        var topic = current.Value with { PartitionCount = newCount };
        var txn = new TxnRequest
        {
            Compare = { new Compare { Key = ByteString.CopyFromUtf8(_keys.Topic(name)), Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = current.ModRevision } },
            Success = { new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(_keys.Topic(name)), Value = Json(topic) } } },
        };
        var firstChunkEnd = Math.Min(newCount, current.Value.PartitionCount + PartitionsPerTxnMax);
        txn.Success.AddRange(NewStates(topic, current.Value.PartitionCount, firstChunkEnd, replicas));
        if (!(await TxnAsync(txn, cancellationToken).ConfigureAwait(false)).Succeeded)
        {
            throw new ClusterUnavailableException($"topic '{name}' changed in the cluster while partitions were being added; try again");
        }

        await WriteRemainingStatesAsync(topic, firstChunkEnd, replicas, cancellationToken).ConfigureAwait(false);
        return topic;
    }

    /// <summary>Replaces a topic's configs in the cluster.</summary>
    public async Task<ClusterTopic> UpdateTopicConfigsAsync(string name, IReadOnlyDictionary<string, string> configs, CancellationToken cancellationToken)
    {
        var current = _topics.TryGetValue(name, out var versioned) ? versioned : throw new ArgumentException($"topic '{name}' is not in the cluster", nameof(name));
        var topic = current.Value with { Configs = new Dictionary<string, string>(configs, StringComparer.Ordinal) };
        var key = ByteString.CopyFromUtf8(_keys.Topic(name));
        var response = await TxnAsync(new TxnRequest
        {
            Compare = { new Compare { Key = key, Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = current.ModRevision } },
            Success = { new RequestOp { RequestPut = new PutRequest { Key = key, Value = Json(topic) } } },
        }, cancellationToken).ConfigureAwait(false);
        return response.Succeeded ? topic : throw new ClusterUnavailableException($"topic '{name}' changed in the cluster while its configs were being set; try again");
    }

    /// <summary>
    /// A compare-and-swap on the partition's key: written only when the key is still at the revision of the state
    /// this broker holds and that state is <paramref name="current"/> (same leader epoch and partition epoch).
    /// </summary>
    public async Task<bool> AlterIsrAsync(PartitionState current, int[] newIsr, CancellationToken cancellationToken)
    {
        if (!newIsr.Contains(current.Leader))
        {
            throw new ArgumentException($"the ISR [{string.Join(",", newIsr)}] must hold the leader {current.Leader}", nameof(newIsr));
        }

        if (!_partitions.TryGetValue((current.Topic, current.Partition), out var held)
            || held.Value.LeaderEpoch != current.LeaderEpoch || held.Value.PartitionEpoch != current.PartitionEpoch)
        {
            return false;
        }

        // A broker that is not live or is in controlled shutdown is not taken into an ISR (KIP-841's ineligible
        // replica): a paused follower whose lease ended must not come back through a leader that still hears it.
        if (newIsr.Any(r => !held.Value.Isr.Contains(r) && (IsShuttingDown(r) || !IsAdmitted(r))))
        {
            return false;
        }

        var next = held.Value with { Isr = newIsr, PartitionEpoch = current.PartitionEpoch + 1 };
        try
        {
            return await WriteStateAsync((current.Topic, current.Partition), held.ModRevision, next, controllerFenced: false, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            throw new ClusterUnavailableException("etcd did not answer AlterIsr: " + e.Status.Detail, e);
        }
    }

    private async Task WriteRemainingStatesAsync(ClusterTopic topic, int from, int[][] replicas, CancellationToken cancellationToken)
    {
        for (var start = from; start < topic.PartitionCount; start += PartitionsPerTxnMax)
        {
            var txn = new TxnRequest();
            txn.Success.AddRange(NewStates(topic, start, Math.Min(topic.PartitionCount, start + PartitionsPerTxnMax), replicas));
            await TxnAsync(txn, cancellationToken).ConfigureAwait(false);
        }
    }

    private IEnumerable<RequestOp> NewStates(ClusterTopic topic, int from, int to, int[][] replicas) =>
        Enumerable.Range(from, to - from).Select(p => new RequestOp
        {
            RequestPut = new PutRequest
            {
                Key = ByteString.CopyFromUtf8(_keys.Partition(topic.Name, p)),
                Value = Json(new PartitionState(topic.Name, topic.Id, p, replicas[p], replicas[p][0], 0, replicas[p], 0)),
            },
        });

    /// <summary>
    /// How long a metadata change waits for etcd to commit it: the request's timeout_ms, at most
    /// <see cref="MetadataChangeTimeoutMsMax"/> (also for a request without a timeout or with 0 or less), so a thread of
    /// a request never waits long on an etcd without quorum. The source ends the wait when the request is aborted too.
    /// </summary>
    public static CancellationTokenSource ChangeTimeout(int requestTimeoutMs, CancellationToken requestAborted)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        source.CancelAfter(requestTimeoutMs > 0 ? Math.Min(requestTimeoutMs, MetadataChangeTimeoutMsMax) : MetadataChangeTimeoutMsMax);
        return source;
    }

    // A change etcd could not commit in time is ClusterTimeoutException, REQUEST_TIMED_OUT to the client: no quorum
    // (etcd answers Unavailable "request timed out"), the wait ended, or the connection failed (a frozen member fails
    // the HTTP/2 ping: Internal). Only refusals a retry cannot fix stay ClusterUnavailableException. Logged once until
    // a change commits again.
    private async Task<TxnResponse> TxnAsync(TxnRequest txn, CancellationToken cancellationToken)
    {
        TxnResponse response;
        try
        {
            response = await _kv.TxnAsync(txn, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException || e is RpcException
        {
            StatusCode: not (StatusCode.InvalidArgument or StatusCode.FailedPrecondition
            or StatusCode.PermissionDenied or StatusCode.Unauthenticated or StatusCode.Unimplemented or StatusCode.ResourceExhausted)
        })
        {
            if (Interlocked.Exchange(ref _changesTimingOut, 1) == 0)
            {
                LogChangeTimedOut(_logger, e is RpcException rpc ? rpc.Status.Detail : e.Message);
            }

            throw new ClusterTimeoutException("etcd did not commit the metadata change in time (no quorum?); it may still be applied", e);
        }
        catch (RpcException e)
        {
            throw new ClusterUnavailableException("etcd did not answer a metadata change: " + e.Status.Detail, e);
        }

        if (Interlocked.Exchange(ref _changesTimingOut, 0) == 1)
        {
            LogChangesCommitting(_logger);
        }

        return response;
    }

    private static ByteString Json(ClusterTopic value) => ByteString.CopyFromUtf8(JsonSerializer.Serialize(value, ClusterJson.Default.ClusterTopic));

    private static ByteString Json(PartitionState value) => ByteString.CopyFromUtf8(JsonSerializer.Serialize(value, ClusterJson.Default.PartitionState));

    [LoggerMessage(EventId = 988, Level = LogLevel.Warning, Message = "etcd does not commit metadata changes ({Reason}); CreateTopics and other changes answer REQUEST_TIMED_OUT until it does")]
    private static partial void LogChangeTimedOut(ILogger logger, string reason);

    [LoggerMessage(EventId = 989, Level = LogLevel.Information, Message = "etcd commits metadata changes again")]
    private static partial void LogChangesCommitting(ILogger logger);
}
