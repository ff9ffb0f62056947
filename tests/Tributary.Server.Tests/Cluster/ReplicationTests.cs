using Confluent.Kafka;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Server.Client;
using Tributary.Storage;
using ErrorCode = Tributary.Protocol.ErrorCode;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// Kafka's replication between three in-process brokers on loopback, driven by the test control plane
/// (<see cref="InProcessCluster"/>): followers fetch from the leader with their replica id and append its batches
/// verbatim; acks=all waits for the ISR; a stopped follower leaves the ISR; a deposed leader cuts its diverged tail.
/// </summary>
public sealed class ReplicationTests
{
    private const string Topic = "replicated";

    private static readonly TimeSpan WaitMax = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AnAcksAllProduceIsAcknowledgedOnlyOnceEveryFollowerHasItAndTheLogsAreIdentical()
    {
        await using var cluster = await InProcessCluster.StartAsync(3);
        await cluster.CreateTopicAsync(Topic, [1, 2, 3]);
        using var producer = Producer(cluster.Broker(1));

        for (var i = 0; i < 20; i++)
        {
            var delivered = await producer.ProduceAsync(Topic, new Message<string, string> { Key = $"k{i}", Value = $"value {i}" });
            Assert.Equal(PersistenceStatus.Persisted, delivered.Status);

            // Acknowledged means in the ISR: both followers have the record already.
            Assert.True(cluster.Log(2, Topic).LogEndOffset > delivered.Offset.Value, $"follower 2 lacks offset {delivered.Offset.Value}");
            Assert.True(cluster.Log(3, Topic).LogEndOffset > delivered.Offset.Value, $"follower 3 lacks offset {delivered.Offset.Value}");
        }

        var leader = cluster.Log(1, Topic);
        Assert.Equal(20, leader.HighWatermark);
        var leaderBytes = ReadUpTo(leader, leader.HighWatermark);
        Assert.Equal(leaderBytes, ReadUpTo(cluster.Log(2, Topic), leader.HighWatermark));
        Assert.Equal(leaderBytes, ReadUpTo(cluster.Log(3, Topic), leader.HighWatermark));

        // The leader stamped its epoch on each batch, and every replica recorded epoch 0 from offset 0.
        Assert.All(Batches(leaderBytes), b => Assert.Equal(0, b.PartitionLeaderEpoch));
        foreach (var id in new[] { 1, 2, 3 })
        {
            Assert.Equal([new LeaderEpochCache.EpochEntry(0, 0)], cluster.Log(id, Topic).LeaderEpochs.Entries);
        }
    }

    [Fact]
    public async Task AStoppedFollowerLeavesTheIsrAndAcksAllGoesOnUntilTheIsrIsBelowTheMinimum()
    {
        await using var cluster = await InProcessCluster.StartAsync(3, new Dictionary<string, string> { ["replica.lag.time.max.ms"] = "1000" });
        await cluster.CreateTopicAsync(Topic, [1, 2, 3], new Dictionary<string, string> { ["min.insync.replicas"] = "2" });
        using (var producer = Producer(cluster.Broker(1)))
        {
            await producer.ProduceAsync(Topic, new Message<string, string> { Key = "k", Value = "before" });
        }

        await cluster.StopBrokerAsync(3);
        await WaitUntilAsync(() => cluster.State(Topic).Isr.SequenceEqual([1, 2]));

        using (var producer = Producer(cluster.Broker(1)))
        {
            var delivered = await producer.ProduceAsync(Topic, new Message<string, string> { Key = "k", Value = "with two in sync" });
            Assert.Equal(PersistenceStatus.Persisted, delivered.Status);
            Assert.True(cluster.Log(2, Topic).LogEndOffset > delivered.Offset.Value);
        }

        await cluster.StopBrokerAsync(2);
        await WaitUntilAsync(() => cluster.State(Topic).Isr.SequenceEqual([1]));

        // min.insync.replicas=2 and only the leader is left: refused before anything is appended.
        var endBefore = cluster.Log(1, Topic).LogEndOffset;
        await using var client = await KafkaWireClient.ConnectAsync(cluster.Broker(1).BootstrapServers);
        var refused = await WireRoundTrip.ProduceAsync(client, Topic, 0, "with one in sync");
        Assert.Equal((short)ErrorCode.NotEnoughReplicas, refused.Responses[0].PartitionResponses[0].ErrorCode);
        Assert.Equal(endBefore, cluster.Log(1, Topic).LogEndOffset);
    }

    [Fact]
    public async Task AFollowerCutOffFromItsLeaderLeavesTheIsrAndRejoinsOnceItHasCaughtUp()
    {
        await using var cluster = await InProcessCluster.StartAsync(3, new Dictionary<string, string> { ["replica.lag.time.max.ms"] = "1000", ["replica.fetch.backoff.ms"] = "50" });
        await cluster.CreateTopicAsync(Topic, [1, 2, 3]);

        // The leader answers follower 3's fetches with an error before they reach it (Kafka's fetcher client id).
        cluster.Broker(1).Intercept(ApiKey.Fetch, context => context.ClientId == "broker-3-fetcher-0" ? new(ErrorCode.UnknownServerError) : default);
        await WaitUntilAsync(() => cluster.State(Topic).Isr.SequenceEqual([1, 2]));

        await using (var client = await KafkaWireClient.ConnectAsync(cluster.Broker(1).BootstrapServers))
        {
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(0, (await WireRoundTrip.ProduceAsync(client, Topic, 0, $"while 3 is away {i}")).Responses[0].PartitionResponses[0].ErrorCode);
            }
        }

        Assert.Equal(0, cluster.Log(3, Topic).LogEndOffset);
        cluster.Broker(1).ClearIntercepts();
        await WaitUntilAsync(() => cluster.State(Topic).Isr.SequenceEqual([1, 2, 3]));

        var leader = cluster.Log(1, Topic);
        Assert.Equal(3, leader.HighWatermark);
        Assert.Equal(ReadUpTo(leader, 3), ReadUpTo(cluster.Log(3, Topic), 3));
    }

    [Fact]
    public async Task ADeposedLeaderCutsItsUnreplicatedBatchWhenItFollowsTheNewLeaderAndTheLogsConverge()
    {
        await using var cluster = await InProcessCluster.StartAsync(3);
        await cluster.CreateTopicAsync(Topic, [1, 2, 3]);
        await using (var client = await KafkaWireClient.ConnectAsync(cluster.Broker(1).BootstrapServers))
        {
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(0, (await WireRoundTrip.ProduceAsync(client, Topic, 0, $"replicated {i}")).Responses[0].PartitionResponses[0].ErrorCode);
            }
        }

        // Broker 1 loses the control plane; 2 becomes leader at epoch 1. Broker 1 still believes it leads epoch 0 and
        // appends a batch nobody replicates (acks=1).
        cluster.CutOff(1);
        await cluster.ElectAsync(Topic, leader: 2, isr: [2, 3]);
        await using (var client = await KafkaWireClient.ConnectAsync(cluster.Broker(1).BootstrapServers))
        {
            Assert.Equal(0, (await ProduceAsync(client, "diverged", acks: 1)).Responses[0].PartitionResponses[0].ErrorCode);
        }

        Assert.Equal(4, cluster.Log(1, Topic).LogEndOffset);
        await using (var client = await KafkaWireClient.ConnectAsync(cluster.Broker(2).BootstrapServers))
        {
            for (var i = 0; i < 2; i++)
            {
                Assert.Equal(0, (await WireRoundTrip.ProduceAsync(client, Topic, 0, $"epoch 1 #{i}")).Responses[0].PartitionResponses[0].ErrorCode);
            }
        }

        // Back in touch, broker 1 follows 2: OffsetsForLeaderEpoch says epoch 0 ended at 3, so offset 3 is cut.
        await cluster.ReconnectAsync(1);
        var newLeader = cluster.Log(2, Topic);
        await WaitUntilAsync(() => cluster.Log(1, Topic).LogEndOffset == newLeader.LogEndOffset && newLeader.HighWatermark == newLeader.LogEndOffset);

        var expected = ReadUpTo(newLeader, newLeader.HighWatermark);
        Assert.Equal(expected, ReadUpTo(cluster.Log(1, Topic), newLeader.HighWatermark));
        Assert.Equal(expected, ReadUpTo(cluster.Log(3, Topic), newLeader.HighWatermark));
        Assert.DoesNotContain("diverged", Values(ReadUpTo(cluster.Log(1, Topic), cluster.Log(1, Topic).LogEndOffset)));
        Assert.Equal([new LeaderEpochCache.EpochEntry(0, 0), new LeaderEpochCache.EpochEntry(1, 3)], cluster.Log(1, Topic).LeaderEpochs.Entries);
    }

    [Fact]
    public async Task AFollowerCutsItsTailInAnEpochTheNewLeaderNeverHadEvenWhereTheLeadersOlderEpochRunsFurther()
    {
        await using var cluster = await InProcessCluster.StartAsync(3, new Dictionary<string, string> { ["replica.fetch.backoff.ms"] = "50" });
        await cluster.CreateTopicAsync(Topic, [1, 2, 3]);
        await using (var client = await KafkaWireClient.ConnectAsync(cluster.Broker(1).BootstrapServers))
        {
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(0, (await WireRoundTrip.ProduceAsync(client, Topic, 0, $"replicated {i}")).Responses[0].PartitionResponses[0].ErrorCode);
            }

            // Epoch 0 goes on to offset 5 on brokers 1 and 2 only (two acks=1 batches that broker 3 never fetches). Its
            // fetcher sends one fetch at a time: once one is refused, none is parked at the leader any more.
            var refused = 0;
            cluster.Broker(1).Intercept(ApiKey.Fetch, context =>
            {
                if (context.ClientId != "broker-3-fetcher-0")
                {
                    return default;
                }

                Interlocked.Increment(ref refused);
                return new(ErrorCode.UnknownServerError);
            });
            await WaitUntilAsync(() => Volatile.Read(ref refused) > 0);
            for (var i = 0; i < 2; i++)
            {
                Assert.Equal(0, (await ProduceAsync(client, $"epoch 0 tail {i}", acks: 1)).Responses[0].PartitionResponses[0].ErrorCode);
            }
        }

        await WaitUntilAsync(() => cluster.Log(2, Topic).LogEndOffset == 5);

        // Broker 3 leads epoch 1 from offset 3, heard by nobody, and writes a batch there.
        cluster.CutOff(1);
        cluster.CutOff(2);
        await cluster.ElectAsync(Topic, leader: 3, isr: [3]);
        await using (var client = await KafkaWireClient.ConnectAsync(cluster.Broker(3).BootstrapServers))
        {
            Assert.Equal(0, (await ProduceAsync(client, "epoch 1 divergent", acks: 1)).Responses[0].PartitionResponses[0].ErrorCode);
        }

        Assert.Equal(4, cluster.Log(3, Topic).LogEndOffset);

        // Broker 2 leads epoch 2 with epoch 0 running to 5: asked about epoch 1, it answers epoch 0 ending at 5. Broker 3's
        // epoch 0 ended at 3, so its offset 3 (epoch 1) must go, though both its log end and 3 are below 5.
        await cluster.ElectAsync(Topic, leader: 2, isr: [2, 3]);
        await cluster.ReconnectAsync(2);
        var leader = cluster.Log(2, Topic);
        await WaitUntilAsync(() => cluster.Log(3, Topic).LogEndOffset == 5 && leader.HighWatermark == 5);

        Assert.Equal(ReadUpTo(leader, 5), ReadUpTo(cluster.Log(3, Topic), 5));
        Assert.DoesNotContain("epoch 1 divergent", Values(ReadUpTo(cluster.Log(3, Topic), 5)));
        Assert.Equal([new LeaderEpochCache.EpochEntry(0, 0)], cluster.Log(3, Topic).LeaderEpochs.Entries);
    }

    [Fact]
    public async Task AFetchWithAnOldLeaderEpochIsFencedAndOneWithAFutureEpochIsUnknown()
    {
        await using var cluster = await InProcessCluster.StartAsync(2);
        await cluster.CreateTopicAsync(Topic, [1, 2]);
        await cluster.ElectAsync(Topic, leader: 2, isr: [1, 2]);
        await using var client = await KafkaWireClient.ConnectAsync(cluster.Broker(2).BootstrapServers);

        Assert.Equal(ErrorCode.FencedLeaderEpoch, await FetchErrorAsync(client, currentLeaderEpoch: 0));
        Assert.Equal(ErrorCode.UnknownLeaderEpoch, await FetchErrorAsync(client, currentLeaderEpoch: 2));
        Assert.Equal(ErrorCode.None, await FetchErrorAsync(client, currentLeaderEpoch: 1));

        // The old leader now follows: a consumer's fetch there is NOT_LEADER_OR_FOLLOWER, and so is a produce.
        await using var old = await KafkaWireClient.ConnectAsync(cluster.Broker(1).BootstrapServers);
        Assert.Equal(ErrorCode.NotLeaderOrFollower, await FetchErrorAsync(old, currentLeaderEpoch: 1));
        Assert.Equal((short)ErrorCode.NotLeaderOrFollower, (await WireRoundTrip.ProduceAsync(old, Topic, 0, "to a follower")).Responses[0].PartitionResponses[0].ErrorCode);

        var epochs = await client.SendAsync<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse>(ApiKey.OffsetForLeaderEpoch, 4, new OffsetForLeaderEpochRequest
        {
            ReplicaId = -1,
            Topics = [new OffsetForLeaderEpochRequest.OffsetForLeaderTopic { Topic = Topic, Partitions = [new OffsetForLeaderEpochRequest.OffsetForLeaderPartition { Partition = 0, CurrentLeaderEpoch = 0, LeaderEpoch = 0 }] }],
        });
        Assert.Equal((short)ErrorCode.FencedLeaderEpoch, epochs.Topics[0].Partitions[0].ErrorCode);
    }

    private static async Task<ErrorCode> FetchErrorAsync(KafkaWireClient client, int currentLeaderEpoch)
    {
        var request = WireRoundTrip.Fetch(Topic, 0, 0, maxWaitMs: 0);
        request.Topics[0].Partitions[0].CurrentLeaderEpoch = currentLeaderEpoch;
        var response = await client.SendAsync<FetchRequest, FetchResponse>(ApiKey.Fetch, 12, request);
        return (ErrorCode)response.Responses[0].Partitions[0].ErrorCode;
    }

    private static Task<ProduceResponse> ProduceAsync(KafkaWireClient client, string value, short acks)
    {
        var builder = new RecordBatchBuilder();
        builder.Add(1_700_000_000_000, "k"u8.ToArray(), System.Text.Encoding.UTF8.GetBytes(value), null);
        return client.SendAsync<ProduceRequest, ProduceResponse>(ApiKey.Produce, 9, new ProduceRequest
        {
            Acks = acks,
            TimeoutMs = 10_000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = Topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = builder.Build() }] }],
        });
    }

    private static IProducer<string, string> Producer(TributaryBroker leader) =>
        new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = leader.BootstrapServers,
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = 0,
            MessageTimeoutMs = 30_000,
        }).Build();

    /// <summary>The stored batches of <paramref name="log"/> below <paramref name="endOffset"/>, as bytes.</summary>
    internal static byte[] ReadUpTo(PartitionLog log, long endOffset)
    {
        var bytes = new List<byte>();
        for (var offset = log.LogStartOffset; offset < endOffset;)
        {
            var read = log.Read(offset, new LogReadOptions(1 << 20) { UpToLogEnd = true, MaxOffset = endOffset });
            Assert.False(read.Records.IsEmpty, $"{log.Topic}-{log.Partition} has nothing at {offset}");
            foreach (var batch in Batches(read.Records.ToArray()))
            {
                offset = batch.NextOffset;
            }

            bytes.AddRange(read.Records.ToArray());
        }

        return [.. bytes];
    }

    private static List<RecordBatchHeader> Batches(byte[] bytes)
    {
        var headers = new List<RecordBatchHeader>();
        for (var position = 0; position < bytes.Length;)
        {
            var header = RecordBatchHeader.Read(bytes.AsSpan(position));
            headers.Add(header);
            position += header.TotalSize;
        }

        return headers;
    }

    private static List<string> Values(byte[] bytes)
    {
        var values = new List<string>();
        for (var position = 0; position < bytes.Length;)
        {
            var batch = RecordBatch.Read(bytes.AsMemory(position));
            foreach (var record in batch.Records)
            {
                values.Add(System.Text.Encoding.UTF8.GetString(record.Value!.Value.Span));
            }

            position += batch.Header.TotalSize;
        }

        return values;
    }

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + WaitMax;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the cluster did not reach the expected state");
            await Task.Delay(20);
        }
    }
}
