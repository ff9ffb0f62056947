using Tributary.Broker.ShareGroups;
using Tributary.Protocol;

namespace Tributary.Broker.Handlers;

/// <summary>
/// Applies the acknowledgements of a ShareFetch or ShareAcknowledge, partition by partition (each all or nothing),
/// then writes the changed share partitions to __share_group_state before the request is answered.
/// </summary>
internal static class SharePartitionAcks
{
    /// <param name="renewAllowed">v2 with IsRenewAck: RENEW (4) is a valid type.</param>
    public static Dictionary<(Guid TopicId, int Partition), ErrorCode> Apply(
        BrokerCore broker, string groupId, string memberId, IEnumerable<(Guid TopicId, int Partition, IReadOnlyList<AcknowledgementBatch> Batches)> acks, bool renewAllowed)
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

            var topic = broker.Metadata.Find(topicId);
            var log = topic is null ? null : broker.FindLog(topic, partition);
            if (topic is null || log is null)
            {
                results[(topicId, partition)] = topic is null ? ErrorCode.UnknownTopicId : ErrorCode.UnknownTopicOrPartition;
                continue;
            }

            var share = shares.Partition(groupId, topic, partition, log, settings);
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
