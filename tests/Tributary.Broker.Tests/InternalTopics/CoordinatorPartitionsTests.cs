using Tributary.Broker.Groups;
using Tributary.Broker.InternalTopics;
using Tributary.Broker.ShareGroups;
using Tributary.Broker.Transactions;
using Tributary.Protocol;

namespace Tributary.Broker.Tests.InternalTopics;

/// <summary>
/// Broker tier, single node: groups, transactional ids and share partitions are spread over the partitions of
/// __consumer_offsets, __transaction_state and __share_group_state as Kafka spreads them (abs(String.hashCode) %
/// partitions; a share partition's key is "groupId:topicId:partition"), each key's records land in its
/// partition and load from there after a restart, and a data directory whose internal topic was created with another
/// partition count keeps that count.
/// </summary>
public sealed class CoordinatorPartitionsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tributary-coordparts-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    // Expected values from Java's String.hashCode, computed outside this code base; "polygenelubricants" hashes to
    // Integer.MIN_VALUE, which Kafka's Utils.abs maps to 0.
    [Theory]
    [InlineData("", 0, 0)]
    [InlineData("hello", 99162322, 22)]
    [InlineData("polygenelubricants", int.MinValue, 0)]
    [InlineData("billing", -109829509, 9)]
    [InlineData("ledger-writer", -91870889, 39)]
    [InlineData("Ünïcödé-grüppe", -1838758580, 30)]
    public void A_key_maps_to_the_partition_Kafka_computes(string key, int javaHashCode, int partitionOf50)
    {
        Assert.Equal(javaHashCode, CoordinatorPartitioner.JavaHashCode(key));
        Assert.Equal(partitionOf50, CoordinatorPartitioner.PartitionFor(key, 50));
        Assert.Equal(0, CoordinatorPartitioner.PartitionFor(key, 1));
    }

    // Expected values computed outside this code base: the key with the topic id as Kafka's Uuid.toString writes it
    // (URL-safe base64 of the 16 bytes, no padding), and its Java String.hashCode.
    [Fact]
    public void A_share_partition_key_is_written_and_placed_as_Kafka_does()
    {
        var key = new SharePartitionKey("pickers", Guid.Parse("00112233-4455-6677-8899-aabbccddeeff"), 3);
        Assert.Equal("pickers:ABEiM0RVZneImaq7zN3u_w:3", key.CoordinatorKey);
        Assert.Equal(1010236314, CoordinatorPartitioner.JavaHashCode(key.CoordinatorKey));
        Assert.Equal(14, CoordinatorPartitioner.PartitionFor(key.CoordinatorKey, 50));
    }

    [Fact]
    public void Share_states_are_written_to_their_own_partition_and_load_from_it_after_a_restart()
    {
        var topicId = Guid.NewGuid();
        var keys = Enumerable.Range(0, 40).Select(i => new SharePartitionKey($"pickers-{i % 4}", topicId, i)).ToList();
        using (var broker = Open("share.coordinator.state.topic.num.partitions=8"))
        {
            foreach (var (key, i) in keys.Select((k, i) => (k, i)))
            {
                Assert.Equal(ErrorCode.None, broker.Core.ShareCoordinator.Write(key, 0, 0, 100 + i, []));
            }

            var state = broker.Topic("__share_group_state");
            Assert.Equal(8, state.PartitionCount);
            var used = keys.Select(k => CoordinatorPartitioner.PartitionFor(k.CoordinatorKey, 8)).ToHashSet();
            Assert.True(used.Count > 1, "forty share partitions all hash to one of eight state partitions");
            for (var p = 0; p < 8; p++)
            {
                Assert.Equal(keys.Count(k => CoordinatorPartitioner.PartitionFor(k.CoordinatorKey, 8) == p), broker.Core.FindLog(state, p)!.LogEndOffset);
            }
        }

        using (var broker = Open("share.coordinator.state.topic.num.partitions=8"))
        {
            foreach (var (key, i) in keys.Select((k, i) => (k, i)))
            {
                Assert.Equal(ErrorCode.None, broker.Core.ShareCoordinator.CoordinatorErrorFor(key));
                var (error, state) = broker.Core.ShareCoordinator.Summary(key, -1);
                Assert.Equal((ErrorCode.None, 100L + i), (error, state?.StartOffset));
            }
        }
    }

    [Fact]
    public void A_share_state_topic_created_with_one_partition_keeps_it_when_the_configured_count_changes()
    {
        var key = new SharePartitionKey("pickers", Guid.Parse("00112233-4455-6677-8899-aabbccddeeff"), 3);
        using (var broker = Open("share.coordinator.state.topic.num.partitions=1"))
        {
            Assert.Equal(ErrorCode.None, broker.Core.ShareCoordinator.Write(key, 0, 0, 42, []));
        }

        using (var broker = Open("share.coordinator.state.topic.num.partitions=50"))
        {
            // The key is in partition 14 of 50, but the topic has one partition, which holds every key.
            Assert.Equal(1, broker.Topic("__share_group_state").PartitionCount);
            Assert.Equal(0, broker.Core.ShareCoordinator.PartitionFor(key));
            Assert.Equal(42L, broker.Core.ShareCoordinator.Summary(key, -1).State?.StartOffset);
        }
    }

    [Fact]
    public void Groups_commit_into_their_own_partition_and_load_from_it_after_a_restart()
    {
        var groups = Enumerable.Range(0, 40).Select(i => $"group-{i}").ToList();
        using (var broker = Open("offsets.topic.num.partitions=8"))
        {
            broker.CreateTopic("orders", 1);
            foreach (var (group, i) in groups.Select((g, i) => (g, i)))
            {
                var results = broker.Core.Groups.CommitOffsets(group, -1, "", null, [new OffsetCommitEntry("orders", 0, 100 + i, -1, null)], 9);
                Assert.Equal([ErrorCode.None], results);
            }

            var offsets = broker.Topic(OffsetsTopicStore.TopicName);
            Assert.Equal(8, offsets.PartitionCount);
            var used = groups.Select(g => CoordinatorPartitioner.PartitionFor(g, 8)).ToHashSet();
            Assert.True(used.Count > 1, "forty groups all hash to one of eight partitions");
            for (var p = 0; p < 8; p++)
            {
                var end = broker.Core.FindLog(offsets, p)!.LogEndOffset;
                Assert.Equal(groups.Count(g => CoordinatorPartitioner.PartitionFor(g, 8) == p), end);
                Assert.Equal(p, broker.Core.Groups.CoordinatorPartitionFor(groups.FirstOrDefault(g => CoordinatorPartitioner.PartitionFor(g, 8) == p) ?? groups[0]) is var q && used.Contains(p) ? q : p);
            }
        }

        using (var broker = Open("offsets.topic.num.partitions=8"))
        {
            foreach (var (group, i) in groups.Select((g, i) => (g, i)))
            {
                Assert.Equal(100 + i, broker.Core.Groups.FetchOffsets(group)[("orders", 0)].Offset);
                Assert.Equal(ErrorCode.None, broker.Core.Groups.CoordinatorErrorFor(group));
            }
        }
    }

    [Fact]
    public void Transactional_ids_are_written_to_their_own_partition_and_load_from_it_after_a_restart()
    {
        var ids = Enumerable.Range(0, 30).Select(i => $"writer-{i}").ToList();
        var producerIds = new Dictionary<string, long>();
        using (var broker = Open("transaction.state.log.num.partitions=6"))
        {
            foreach (var id in ids)
            {
                var (error, producerId, epoch) = broker.Core.Transactions.InitProducerId(id, 60_000, -1, -1, fencedErrorSupported: true);
                Assert.Equal((ErrorCode.None, (short)0), (error, epoch));
                producerIds[id] = producerId;
            }

            var state = broker.Topic(TransactionStateStore.TopicName);
            Assert.Equal(6, state.PartitionCount);
            for (var p = 0; p < 6; p++)
            {
                Assert.Equal(ids.Count(id => CoordinatorPartitioner.PartitionFor(id, 6) == p), broker.Core.FindLog(state, p)!.LogEndOffset);
            }
        }

        using (var broker = Open("transaction.state.log.num.partitions=6"))
        {
            foreach (var id in ids)
            {
                var described = broker.Core.Transactions.Describe(id);
                Assert.NotNull(described);
                Assert.Equal(producerIds[id], described.ProducerId);
            }
        }
    }

    [Fact]
    public void An_internal_topic_created_with_one_partition_keeps_it_when_the_configured_count_changes()
    {
        using (var broker = Open("offsets.topic.num.partitions=1"))
        {
            broker.CreateTopic("orders", 1);
            Assert.Equal([ErrorCode.None], broker.Core.Groups.CommitOffsets("billing", -1, "", null, [new OffsetCommitEntry("orders", 0, 42, -1, null)], 9));
            Assert.Equal(1, broker.Topic(OffsetsTopicStore.TopicName).PartitionCount);
        }

        using (var broker = Open("offsets.topic.num.partitions=50"))
        {
            // "billing" is in partition 9 of 50, but the topic has one partition, which holds every group.
            Assert.Equal(1, broker.Topic(OffsetsTopicStore.TopicName).PartitionCount);
            Assert.Equal(0, broker.Core.Groups.CoordinatorPartitionFor("billing"));
            Assert.Equal(42, broker.Core.Groups.FetchOffsets("billing")[("orders", 0)].Offset);
            Assert.Equal([ErrorCode.None], broker.Core.Groups.CommitOffsets("billing", -1, "", null, [new OffsetCommitEntry("orders", 0, 43, -1, null)], 9));
        }

        using (var broker = Open("offsets.topic.num.partitions=50"))
        {
            Assert.Equal(43, broker.Core.Groups.FetchOffsets("billing")[("orders", 0)].Offset);
        }
    }

    private TestBroker Open(params string[] settings) => TestBroker.OnDisk(_directory, settings);
}
