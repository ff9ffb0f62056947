using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Broker.ShareGroups;
using Tributary.Protocol;

namespace Tributary.Broker.Handlers;

/// <summary>
/// Applies the acknowledgements of a ShareFetch or ShareAcknowledge, partition by partition (each all or nothing),
/// then writes the changed share partitions to __share_group_state before the request is answered.
/// </summary>
internal static class SharePartitionAcks
{
    /// <summary>The ids of known topics among <paramref name="topicIds"/> the caller may not READ (unknown ids are not checked).</summary>
    public static HashSet<Guid> Unreadable(BrokerCore broker, RequestContext context, IEnumerable<Guid> topicIds) =>
        [.. topicIds.Distinct().Where(id => broker.Metadata.Find(id) is { } topic
            && !broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Topic, topic.Name))];

    /// <param name="unreadable">Topics the caller may not READ: their acknowledgements are TOPIC_AUTHORIZATION_FAILED.</param>
    /// <param name="renewAllowed">v2 with IsRenewAck: RENEW (4) is a valid type.</param>
    public static Dictionary<(Guid TopicId, int Partition), ErrorCode> Apply(
        BrokerCore broker, string groupId, string memberId, IEnumerable<(Guid TopicId, int Partition, IReadOnlyList<AcknowledgementBatch> Batches)> acks,
        IReadOnlySet<Guid> unreadable, bool renewAllowed)
    {
        var shares = broker.ShareGroups;
        var settings = shares.SettingsFor(groupId);
        var results = new Dictionary<(Guid, int), ErrorCode>();
        var changed = new List<SharePartition>();
        foreach (var (topicId, partition, batches) in acks)
        {
            if (batches.Count == 0)
            {
                continue;
            }

            if (unreadable.Contains(topicId))
            {
                results[(topicId, partition)] = ErrorCode.TopicAuthorizationFailed;
                continue;
            }

            var topic = broker.Metadata.Find(topicId);
            var log = topic is null ? null : broker.FindLog(topic, partition);
            if (topic is null || log is null)
            {
                results[(topicId, partition)] = topic is null ? ErrorCode.UnknownTopicId : ErrorCode.UnknownTopicOrPartition;
                continue;
            }

            var (located, share) = shares.TryPartition(groupId, topic, partition, log, settings);
            if (share is null)
            {
                results[(topicId, partition)] = located;
                continue;
            }

            var error = share.Acknowledge(memberId, batches, renewAllowed, settings, shares.NowMs);
            results[(topicId, partition)] = error;
            if (error == ErrorCode.None)
            {
                changed.Add(share);
            }
        }

        // An acknowledgement that could not be written is not durable: the client learns it, as from Kafka's persister.
        if (!shares.Persist(changed))
        {
            foreach (var share in changed)
            {
                results[(share.Key.TopicId, share.Key.Partition)] = ErrorCode.CoordinatorNotAvailable;
            }
        }

        return results;
    }
}
