using System.Text.Json;
using Confluent.Kafka;
using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// <c>__consumer_offsets</c> is in Kafka's record format, as lag monitors (Burrow) and <c>kafka-dump-log
/// --offsets-decoder</c> read it: a Confluent.Kafka 2.16 consumer joins a classic group and commits, and
/// tests/interop-py/offsets_decoder.py fetches the topic with kafka-python and decodes OffsetCommitKey/Value and
/// GroupMetadataKey/Value by hand with <c>struct</c>, from Kafka's documented layout.
/// </summary>
public sealed class ConsumerOffsetsDecoderTests(ITestOutputHelper output)
{
    private const string Topic = "decoded";
    private const string Group = "decoded-group";

    [Fact]
    public async Task KafkaPythonDecodesTheOffsetsAndGroupAConfluentConsumerCommitted()
    {
        Librdkafka.EnsureLoaded();
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { Topics = { [Topic] = 2 } });
        var script = Path.Combine(RepositoryPaths.Root, "tests", "interop-py", "offsets_decoder.py");
        var beforeMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = broker.BootstrapServers,
            GroupId = Group,
            ClientId = "decoder-client",
            EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe(Topic);
        for (var attempt = 0; attempt < 60 && consumer.Assignment.Count < 2; attempt++)
        {
            consumer.Consume(TimeSpan.FromMilliseconds(500));
        }

        Assert.Equal(2, consumer.Assignment.Count);
        consumer.Commit([new TopicPartitionOffset(Topic, 0, 42), new TopicPartitionOffset(Topic, 1, 7)]);
        var afterMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        // Read while the consumer is still a member, so the group's record lists it.
        var run = await ProcessRunner.RunAsync("/usr/bin/python3", [script, broker.BootstrapServers], TimeSpan.FromSeconds(90));
        output.WriteLine(run.Describe());
        Assert.True(run.ExitCode == 0, "offsets_decoder.py failed: " + run.Describe());
        using var json = JsonDocument.Parse(run.StandardOutput.Trim().Split('\n')[^1]);

        var offsets = json.RootElement.GetProperty("offsets").EnumerateArray()
            .Where(o => o.GetProperty("group").GetString() == Group && o.GetProperty("topic").GetString() == Topic)
            .ToDictionary(o => o.GetProperty("partition").GetInt32());
        Assert.Equal([0, 1], offsets.Keys.Order());
        Assert.Equal(42, offsets[0].GetProperty("offset").GetInt64());
        Assert.Equal(7, offsets[1].GetProperty("offset").GetInt64());
        foreach (var o in offsets.Values)
        {
            // Kafka 4.2 writes OffsetCommitValue v3 when the commit has no expiry; a commit without metadata stores "".
            Assert.Equal(3, o.GetProperty("version").GetInt32());
            Assert.Equal("", o.GetProperty("metadata").GetString());
            Assert.Equal(-1, o.GetProperty("leader_epoch").GetInt32());
            Assert.InRange(o.GetProperty("commit_timestamp").GetInt64(), beforeMs, afterMs);
        }

        var group = Assert.Single(json.RootElement.GetProperty("groups").EnumerateArray(), g => g.GetProperty("group").GetString() == Group);
        Assert.Equal(3, group.GetProperty("version").GetInt32());
        Assert.Equal("consumer", group.GetProperty("protocol_type").GetString());
        Assert.True(group.GetProperty("generation").GetInt32() >= 1);
        var member = Assert.Single(group.GetProperty("members").EnumerateArray());
        Assert.Equal(group.GetProperty("leader").GetString(), member.GetProperty("member_id").GetString());
        Assert.Equal("decoder-client", member.GetProperty("client_id").GetString());
        Assert.True(member.GetProperty("assignment_bytes").GetInt32() > 0);
        consumer.Close();
    }

    /// <summary>
    /// A Confluent.Kafka transactional producer's SendOffsetsToTransaction: the offsets are OffsetCommit records in
    /// __consumer_offsets (a transactional batch), followed there by the transaction's commit marker, as Kafka writes them.
    /// </summary>
    [Fact]
    public async Task KafkaPythonDecodesTheOffsetsATransactionCommitted()
    {
        Librdkafka.EnsureLoaded();
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { Topics = { [Topic] = 2 } });
        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = broker.BootstrapServers, TransactionalId = "decoded-tx" }).Build())
        using (var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = broker.BootstrapServers, GroupId = "decoded-tx-group" }).Build())
        {
            producer.InitTransactions(TimeSpan.FromSeconds(30));
            producer.BeginTransaction();
            await producer.ProduceAsync(Topic, new Message<Null, string> { Value = "v" });
            producer.SendOffsetsToTransaction([new TopicPartitionOffset(Topic, 1, 99)], consumer.ConsumerGroupMetadata, TimeSpan.FromSeconds(30));
            producer.CommitTransaction(TimeSpan.FromSeconds(30));
        }

        var script = Path.Combine(RepositoryPaths.Root, "tests", "interop-py", "offsets_decoder.py");
        var run = await ProcessRunner.RunAsync("/usr/bin/python3", [script, broker.BootstrapServers], TimeSpan.FromSeconds(90));
        output.WriteLine(run.Describe());
        Assert.True(run.ExitCode == 0, "offsets_decoder.py failed: " + run.Describe());
        using var json = JsonDocument.Parse(run.StandardOutput.Trim().Split('\n')[^1]);
        var offset = Assert.Single(json.RootElement.GetProperty("offsets").EnumerateArray(), o => o.GetProperty("group").GetString() == "decoded-tx-group");
        Assert.Equal((Topic, 1, 99L, 3), (offset.GetProperty("topic").GetString(), offset.GetProperty("partition").GetInt32(), offset.GetProperty("offset").GetInt64(), offset.GetProperty("version").GetInt32()));
        Assert.Equal(1, json.RootElement.GetProperty("markers").GetProperty("commit").GetInt32());
        Assert.Equal(99, broker.Core.Groups.FetchOffsets("decoded-tx-group")[(Topic, 1)].Offset);
    }
}
