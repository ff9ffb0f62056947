using System.Buffers.Text;
using System.Globalization;

namespace Tributary.Broker.ShareGroups;

/// <summary>A share partition: a group's view of one topic partition (Kafka's SharePartitionKey).</summary>
public readonly record struct SharePartitionKey(string GroupId, Guid TopicId, int Partition)
{
    /// <summary>
    /// Kafka's coordinator key of the share partition, "groupId:topicId:partition" with the topic id as Kafka writes a
    /// Uuid (its 16 bytes, URL-safe base64 without padding): FindCoordinator key type 2 names a share coordinator by it,
    /// and its Java hash picks the partition of __share_group_state that holds the state.
    /// </summary>
    public string CoordinatorKey
    {
        get
        {
            Span<byte> id = stackalloc byte[16];
            TopicId.TryWriteBytes(id, bigEndian: true, out _);
            return string.Create(CultureInfo.InvariantCulture, $"{GroupId}:{Base64Url.EncodeToString(id)}:{Partition}");
        }
    }
}
